using System.Diagnostics;

namespace SeekSharp.Distributed;

/// <summary>What <see cref="TransportCheck.Run"/> found: each collective verified, and the all-reduce's speed.</summary>
public sealed record TransportReport(int Ranks, IReadOnlyList<string> Verified, long AllReduceBytes, double AllReduceSeconds)
{
    /// <summary>Bus bandwidth of the all-reduce as nccl-tests defines it: bytes · 2(n−1)/n / time.</summary>
    public double AllReduceBusGBps => Ranks < 2 ? 0 : AllReduceBytes * 2.0 * (Ranks - 1) / Ranks / AllReduceSeconds / 1e9;
}

/// <summary>
/// Checks the transport end to end on the ranks of a job: every collective training uses runs on a pattern whose result
/// each rank can predict, and a wrong value throws <see cref="DistributedException"/> naming the collective and rank.
/// Then it times an all-reduce of <c>megabytes</c> of floats (best of five). Run by <c>seeksharp mpi-check</c>.
/// </summary>
public static class TransportCheck
{
    public static TransportReport Run(Communicator comm, int megabytes = 16)
    {
        int r = comm.Rank, n = comm.Size;
        var verified = new List<string>();
        comm.Barrier();
        verified.Add("barrier");

        // all-reduce: rank r contributes (r + 1)·(i + 1); the sum is (i + 1)·n(n + 1)/2, exact in float for these sizes.
        var f = new float[1000];
        for (int i = 0; i < f.Length; i++) f[i] = (r + 1) * (i + 1);
        comm.AllReduceSum<float>(f);
        for (int i = 0; i < f.Length; i++) Expect(f[i] == (i + 1) * n * (n + 1) / 2f, "all-reduce sum (float)", r, i);
        var d = new double[] { r, -r };
        comm.AllReduceMax<double>(d);
        Expect(d[0] == n - 1 && d[1] == 0, "all-reduce max (double)", r, 0);
        var l = new long[] { 1L << 40 };
        comm.AllReduceSum<long>(l);
        Expect(l[0] == n * (1L << 40), "all-reduce sum (long)", r, 0);
        verified.Add("all-reduce (sum, max; float, double, long)");

        var b = new int[3];
        if (r == 0) b = [7, 8, 9];
        comm.Broadcast<int>(b);
        Expect(b.SequenceEqual([7, 8, 9]), "broadcast", r, 0);
        verified.Add("broadcast");

        var gathered = new int[2 * n];
        comm.AllGather<int>([r, 10 * r], gathered);
        for (int j = 0; j < n; j++) Expect(gathered[2 * j] == j && gathered[2 * j + 1] == 10 * j, "all-gather", r, j);
        // all-gatherv: rank j sends j + 1 copies of j.
        var counts = Enumerable.Range(1, n).ToArray();
        var all = new int[counts.Sum()];
        comm.AllGatherV<int>(Enumerable.Repeat(r, r + 1).ToArray(), all, counts);
        for (int j = 0, at = 0; j < n; at += j + 1, j++)
            for (int k = 0; k <= j; k++) Expect(all[at + k] == j, "all-gatherv", r, at + k);
        verified.Add("all-gather, all-gatherv");

        // reduce-scatter: block j of rank r holds (r + 1)·(j + 1) + i; rank r's block of the sum is
        // (r + 1)·n(n + 1)/2 + n·i. Then an all-gather in place puts every rank's block back together, and a gather
        // brings rank j's pair (j, −j) to rank 0.
        const int block = 5;
        var scatter = new float[block * n];
        for (int j = 0; j < n; j++)
            for (int i = 0; i < block; i++) scatter[j * block + i] = (r + 1) * (j + 1) + i;
        var mine = new float[block];
        comm.ReduceScatterSum<float>(scatter, mine);
        for (int i = 0; i < block; i++) Expect(mine[i] == (r + 1) * n * (n + 1) / 2f + n * i, "reduce-scatter", r, i);
        var blocks = new float[block * n];
        mine.CopyTo(blocks.AsSpan(r * block));
        comm.AllGatherInPlace<float>(blocks);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < block; i++) Expect(blocks[j * block + i] == (j + 1) * n * (n + 1) / 2f + n * i, "all-gather in place", r, j * block + i);
        var pairs = new int[r == 0 ? 2 * n : 0];
        comm.Gather<int>([r, -r], pairs);
        if (r == 0)
            for (int j = 0; j < n; j++) Expect(pairs[2 * j] == j && pairs[2 * j + 1] == -j, "gather", r, j);
        verified.Add("reduce-scatter, all-gather in place, gather");

        // all-to-all of counts, then all-to-allv: rank r sends (r + j + 1) floats of value 100·r + j to rank j.
        var sendCounts = Enumerable.Range(0, n).Select(j => r + j + 1).ToArray();
        var receiveCounts = new int[n];
        comm.AllToAll<int>(sendCounts, receiveCounts);
        for (int j = 0; j < n; j++) Expect(receiveCounts[j] == j + r + 1, "all-to-all", r, j);
        var send = new float[sendCounts.Sum()];
        for (int j = 0, at = 0; j < n; at += sendCounts[j], j++) send.AsSpan(at, sendCounts[j]).Fill(100 * r + j);
        var receive = new float[receiveCounts.Sum()];
        comm.AllToAllV<float>(send, sendCounts, receive, receiveCounts);
        for (int j = 0, at = 0; j < n; at += receiveCounts[j], j++)
            for (int k = 0; k < receiveCounts[j]; k++) Expect(receive[at + k] == 100 * j + r, "all-to-allv", r, at + k);
        verified.Add("all-to-all, all-to-allv");

        // split: even and odd ranks form two communicators (as expert-parallel groups do); a sum within each.
        using (var half = comm.Split(r % 2, r))
        {
            Span<int> members = [1, r];
            half.AllReduceSum(members);
            int expectedSize = (n + 1 - r % 2) / 2, expectedRankSum = 0;
            for (int j = r % 2; j < n; j += 2) expectedRankSum += j;
            Expect(half.Size == expectedSize && half.Rank == r / 2 && members[0] == expectedSize && members[1] == expectedRankSum, "split", r, 0);
        }
        verified.Add("split");

        var big = new float[megabytes * (1 << 20) / sizeof(float)];
        big.AsSpan().Fill(1);
        double best = double.MaxValue;
        for (int round = 0; round < 6; round++)
        {
            comm.Barrier();
            var sw = Stopwatch.StartNew();
            comm.AllReduceSum<float>(big);
            if (round > 0) best = Math.Min(best, sw.Elapsed.TotalSeconds);   // round 0 sets up the connections
        }
        return new TransportReport(n, verified, (long)big.Length * sizeof(float), best);
    }

    private static void Expect(bool ok, string what, int rank, int index)
    {
        if (!ok) throw new DistributedException($"transport check: {what} gave a wrong value on rank {rank} (element {index}).");
    }
}
