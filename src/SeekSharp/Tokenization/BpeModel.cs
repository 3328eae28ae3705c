using System.Buffers;

namespace SeekSharp.Tokenization;

/// <summary>
/// Byte-level BPE: a piece's UTF-8 bytes start as one token each, then the adjacent pair with the best (lowest)
/// merge rank is merged, leftmost first among equals, until no adjacent pair has a rule. This is Hugging Face's
/// order (its heap pops (rank, position) minima). Immutable and thread-safe.
/// </summary>
internal sealed class BpeModel
{
    /// <summary>Pieces longer than this many bytes use the O(n log n) heap instead of the O(n²) scan.</summary>
    internal const int ScanLimit = 96;

    private readonly int[] _byteToId = new int[256];
    private readonly int? _unkId;

    public BpeModel(MergeTable merges, Func<string, int?> lookup, int? unkId)
    {
        Merges = merges;
        _unkId = unkId;
        for (int b = 0; b < 256; b++)
            _byteToId[b] = lookup(ByteLevel.ByteToChar[b].ToString()) ?? -1;
    }

    public MergeTable Merges { get; }

    /// <summary>The token of a single byte, or -1 when the vocabulary lacks it.</summary>
    public int ByteToken(byte b) => _byteToId[b];

    /// <summary>
    /// Encodes one piece's bytes into <paramref name="ids"/> (at least <c>bytes.Length</c> long) and returns how
    /// many ids it wrote. A byte with no token becomes the unknown token, or is dropped when there is none
    /// (Hugging Face's rule; a full byte-level vocabulary never has such a byte).
    /// </summary>
    public int Encode(ReadOnlySpan<byte> bytes, Span<int> ids)
    {
        int n = 0;
        foreach (byte b in bytes)
        {
            int id = _byteToId[b];
            if (id >= 0)
                ids[n++] = id;
            else if (_unkId is int unk)
                ids[n++] = unk;
        }
        if (n < 2)
            return n;
        return n <= ScanLimit ? MergeByScan(ids[..n]) : MergeByHeap(ids[..n]);
    }

    /// <summary>
    /// The plain algorithm: keep the rank of every adjacent pair, merge the best, update its two neighbours.
    /// O(n²) in the worst case, and fastest for the short pieces that make up almost all text.
    /// </summary>
    internal int MergeByScan(Span<int> ids)
    {
        int n = ids.Length;
        Span<int> rank = stackalloc int[ScanLimit];
        Span<int> merged = stackalloc int[ScanLimit];
        for (int i = 0; i + 1 < n; i++)
            Lookup(ids[i], ids[i + 1], out rank[i], out merged[i]);
        while (n > 1)
        {
            int best = 0;
            for (int i = 1; i + 1 < n; i++)
                if (rank[i] < rank[best])
                    best = i;
            if (rank[best] == int.MaxValue)
                break;
            ids[best] = merged[best];
            // Drop token best+1 and pair best+1, then re-rank the two pairs that now touch the new token.
            ids.Slice(best + 2, n - best - 2).CopyTo(ids[(best + 1)..]);
            if (best + 2 < n - 1)
            {
                rank.Slice(best + 2, n - best - 3).CopyTo(rank[(best + 1)..]);
                merged.Slice(best + 2, n - best - 3).CopyTo(merged[(best + 1)..]);
            }
            n--;
            if (best + 1 < n)
                Lookup(ids[best], ids[best + 1], out rank[best], out merged[best]);
            if (best > 0)
                Lookup(ids[best - 1], ids[best], out rank[best - 1], out merged[best - 1]);
        }
        return n;
    }

    /// <summary>
    /// The same merges for long pieces: a linked list of symbols and a min-heap of candidate merges keyed by
    /// (rank, position); a candidate whose pair has changed since it was pushed is skipped when popped.
    /// </summary>
    internal int MergeByHeap(Span<int> ids)
    {
        int n = ids.Length;
        int[] next = ArrayPool<int>.Shared.Rent(n), prev = ArrayPool<int>.Shared.Rent(n);
        var heap = new PriorityQueue<(int Pos, int Merged), (int Rank, int Pos)>(n);
        try
        {
            for (int i = 0; i < n; i++)
            {
                next[i] = i + 1 < n ? i + 1 : -1;
                prev[i] = i - 1;
            }
            for (int i = 0; i + 1 < n; i++)
                if (Merges.TryGet(ids[i], ids[i + 1], out int r, out int m))
                    heap.Enqueue((i, m), (r, i));
            while (heap.TryDequeue(out var top, out var key))
            {
                int pos = top.Pos, right = next[pos];
                if (ids[pos] < 0 || right < 0 || !Merges.TryGet(ids[pos], ids[right], out _, out int m) || m != top.Merged)
                    continue;   // stale: one side was merged away or changed since this candidate was pushed
                ids[pos] = m;
                ids[right] = -1;
                next[pos] = next[right];
                if (next[pos] >= 0)
                    prev[next[pos]] = pos;
                if (prev[pos] >= 0 && Merges.TryGet(ids[prev[pos]], m, out int rl, out int ml))
                    heap.Enqueue((prev[pos], ml), (rl, prev[pos]));
                if (next[pos] >= 0 && Merges.TryGet(m, ids[next[pos]], out int rr, out int mr))
                    heap.Enqueue((pos, mr), (rr, pos));
            }
            int count = 0;
            for (int i = 0; i >= 0; i = next[i])
                ids[count++] = ids[i];
            return count;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(next);
            ArrayPool<int>.Shared.Return(prev);
        }
    }

    private void Lookup(int left, int right, out int rank, out int merged)
    {
        if (!Merges.TryGet(left, right, out rank, out merged))
            rank = int.MaxValue;
    }
}
