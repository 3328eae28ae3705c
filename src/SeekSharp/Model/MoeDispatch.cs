using System.Diagnostics;
using SeekSharp.Distributed;
using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// Expert parallelism's token exchange for one expert-parallel group of ranks (docs/distributed.md): the routed experts
/// are split contiguously, rank r of E owning experts [r·N_r/E, (r+1)·N_r/E), so when n_group is a multiple of E each
/// rank owns whole groups and node-limited routing (topk_group) bounds the ranks a token reaches.
/// </summary>
/// <remarks>
/// <para>Dispatch (<see cref="ToOwners"/>): every rank sends each (token, expert) row to the expert's owner by
/// all-to-allv, after the per-expert counts have gone the same way. The owner gathers an expert's rows from every rank,
/// in rank order and, within a rank, in the sender's order, so an expert sees the rows of the global batch in the order
/// one process would, and its GEMMs sum in the same order. Combine (<see cref="FromOwners"/>) is the inverse: each
/// output row goes back to the rank and slot it came from. In the backward pass ∂L/∂FFN_e(u) travels like the dispatch
/// and ∂L/∂x comes back like the combine.</para>
/// <para>Rows are grouped by expert in the sender's order (<see cref="Moe.Activations.Order"/>); since each rank's
/// experts are contiguous, the rows for rank r are one contiguous block, in expert order.</para>
/// </remarks>
public sealed class MoeDispatch
{
    private readonly Stopwatch _communication = new();

    /// <summary>The ranks the experts are split over (the expert-parallel group).</summary>
    public Communicator Group { get; }
    /// <summary>N_r: routed experts of a layer.</summary>
    public int Experts { get; }
    public int ExpertsPerRank => Experts / Group.Size;
    /// <summary>The first expert this rank owns.</summary>
    public int FirstExpert => Group.Rank * ExpertsPerRank;
    /// <summary>Wall time spent in this dispatch's all-to-alls (waiting for the other ranks included).</summary>
    public TimeSpan CommunicationTime => _communication.Elapsed;

    public MoeDispatch(Communicator group, int experts)
    {
        if (experts % group.Size != 0)
            throw new InvalidInputException($"{experts} routed experts do not split over {group.Size} expert-parallel ranks: use a number of ranks that divides {experts}.");
        Group = group;
        Experts = experts;
    }

    /// <summary>Bytes of rows this rank has sent to other ranks (dispatch and combine, forward and backward; not the counts).</summary>
    public long BytesSent { get; private set; }

    /// <summary>The most ranks any one token's chosen experts lay on, over every dispatch so far (node-limited routing).</summary>
    public int MostRanksPerToken { get; private set; }

    /// <summary>
    /// The most distinct owners among any token's K chosen experts: <paramref name="indices"/> [n·K], experts split
    /// contiguously <paramref name="expertsPerRank"/> to a rank.
    /// </summary>
    public static int RanksReached(ReadOnlySpan<int> indices, int k, int expertsPerRank)
    {
        int most = 0;
        Span<int> owners = stackalloc int[k];
        for (int t = 0; t + k <= indices.Length; t += k)
        {
            int distinct = 0;
            for (int i = 0; i < k; i++)
            {
                int owner = indices[t + i] / expertsPerRank;
                if (owners[..distinct].IndexOf(owner) < 0) owners[distinct++] = owner;
            }
            most = Math.Max(most, distinct);
        }
        return most;
    }

    /// <summary>The rank (in <see cref="Group"/>) that owns expert <paramref name="expert"/>.</summary>
    public int OwnerOf(int expert) => expert / ExpertsPerRank;

    /// <summary>One forward's exchange: how many rows go to and come from each rank, and the owned experts' intermediates.</summary>
    public sealed class Exchange
    {
        public int[] SendRows = [];      // [E] rows this rank sends to each rank
        public int[] ReceiveRows = [];   // [E] rows this rank receives from each rank
        public int[] Received = [];      // [E, N_r/E] rows from rank s for owned expert j, at s·(N_r/E) + j
        public Mlp.Activations[] Acts = [];   // [N_r/E] the owned experts' intermediates (kept for backward)
        internal int[] SendElements = [], ReceiveElements = [];
        internal float[] SendBuffer = [], ReceiveBuffer = [];
    }

    /// <summary>
    /// Exchanges the per-expert row counts of this forward (<paramref name="counts"/>: [N_r] rows this rank routes to
    /// each expert): each rank learns how many rows every rank sends it for each expert it owns. <paramref name="indices"/>
    /// [n·K], the chosen experts, feed <see cref="MostRanksPerToken"/>.
    /// </summary>
    public void Plan(Exchange ex, ReadOnlySpan<int> counts, ReadOnlySpan<int> indices, int k)
    {
        MostRanksPerToken = Math.Max(MostRanksPerToken, RanksReached(indices, k, ExpertsPerRank));
        int ranks = Group.Size, per = ExpertsPerRank;
        if (counts.Length != Experts) throw new ArgumentException($"Plan: {counts.Length} counts for {Experts} experts.");
        if (ex.SendRows.Length != ranks)
        {
            ex.SendRows = new int[ranks];
            ex.ReceiveRows = new int[ranks];
            ex.Received = new int[ranks * per];
            ex.SendElements = new int[ranks];
            ex.ReceiveElements = new int[ranks];
        }
        var blockCounts = new int[ranks];
        blockCounts.AsSpan().Fill(per);
        _communication.Start();
        Group.AllToAllV(counts, blockCounts, ex.Received, blockCounts);
        _communication.Stop();
        for (int r = 0; r < ranks; r++)
        {
            int send = 0, receive = 0;
            for (int j = 0; j < per; j++) { send += counts[r * per + j]; receive += ex.Received[r * per + j]; }
            ex.SendRows[r] = send;
            ex.ReceiveRows[r] = receive;
        }
    }

    /// <summary>
    /// Dispatch: <paramref name="rows"/> [n·K, d] (grouped by expert) go to their experts' owners; returns this rank's
    /// owned experts' rows from every rank, one tensor per owned expert ([rows_j, d], empty when none).
    /// </summary>
    public Tensor[] ToOwners(ForwardContext ctx, Exchange ex, Tensor rows)
    {
        int ranks = Group.Size, per = ExpertsPerRank, d = rows.Cols;
        int received = ex.ReceiveRows.Sum();
        for (int r = 0; r < ranks; r++) { ex.SendElements[r] = ex.SendRows[r] * d; ex.ReceiveElements[r] = ex.ReceiveRows[r] * d; }
        if (ex.ReceiveBuffer.Length < received * d) ex.ReceiveBuffer = new float[received * d];
        var incoming = ex.ReceiveBuffer.AsSpan(0, received * d);                 // [Σ rows, d] by sender, then expert
        CountSent(ex.SendElements);
        _communication.Start();
        Group.AllToAllV<float>(rows.Span, ex.SendElements, incoming, ex.ReceiveElements);
        _communication.Stop();
        // Regroup by expert: expert j's rows are those of rank 0, then rank 1, …
        var result = new Tensor[per];
        var filled = new int[per];
        for (int j = 0; j < per; j++)
        {
            int total = 0;
            for (int s = 0; s < ranks; s++) total += ex.Received[s * per + j];
            if (total > 0) result[j] = ctx.Arena.AllocateUninitialized(new TensorShape(total, d));   // [rows_j, d]
        }
        int at = 0;
        for (int s = 0; s < ranks; s++)
            for (int j = 0; j < per; j++)
            {
                int count = ex.Received[s * per + j];
                if (count == 0) continue;
                incoming.Slice(at * d, count * d).CopyTo(result[j].Span.Slice(filled[j] * d, count * d));
                filled[j] += count;
                at += count;
            }
        return result;
    }

    /// <summary>
    /// Combine: the inverse of <see cref="ToOwners"/>. <paramref name="owned"/> holds one tensor per owned expert in the
    /// layout ToOwners returned; each row goes back to the rank it came from, into <paramref name="rows"/> [n·K, d].
    /// </summary>
    public void FromOwners(Exchange ex, Tensor[] owned, Tensor rows)
    {
        int ranks = Group.Size, per = ExpertsPerRank, d = rows.Cols;
        int total = ex.ReceiveRows.Sum();
        if (ex.SendBuffer.Length < total * d) ex.SendBuffer = new float[total * d];
        var outgoing = ex.SendBuffer.AsSpan(0, total * d);                       // [Σ rows, d] by receiver, then expert
        var taken = new int[per];
        int at = 0;
        for (int s = 0; s < ranks; s++)
            for (int j = 0; j < per; j++)
            {
                int count = ex.Received[s * per + j];
                if (count == 0) continue;
                owned[j].Span.Slice(taken[j] * d, count * d).CopyTo(outgoing.Slice(at * d, count * d));
                taken[j] += count;
                at += count;
            }
        for (int r = 0; r < ranks; r++) { ex.SendElements[r] = ex.ReceiveRows[r] * d; ex.ReceiveElements[r] = ex.SendRows[r] * d; }
        CountSent(ex.SendElements);
        _communication.Start();
        Group.AllToAllV<float>(outgoing, ex.SendElements, rows.Span, ex.ReceiveElements);
        _communication.Stop();
    }

    private void CountSent(int[] elements)
    {
        for (int r = 0; r < elements.Length; r++)
            if (r != Group.Rank) BytesSent += (long)elements[r] * sizeof(float);
    }
}
