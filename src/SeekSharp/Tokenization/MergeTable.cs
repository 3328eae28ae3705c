using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization;

/// <summary>
/// The BPE merge rules as a hash table from a pair of token ids to (rank, merged id): open addressing with linear
/// probing over one array of 16-byte entries, because this lookup is the inner loop of BPE on a cache miss.
/// Immutable once built, so any number of threads may read it.
/// </summary>
internal sealed class MergeTable
{
    private const ulong Empty = ulong.MaxValue;   // no pair of two valid ids packs to this

    private readonly Entry[] _entries;
    private readonly int _shift;

    private struct Entry
    {
        public ulong Key;
        public int Rank;
        public int MergedId;
    }

    /// <param name="merges">Merges in rank order: <c>merges[r]</c> joins (Left, Right) into Merged.</param>
    public MergeTable(IReadOnlyList<(int Left, int Right, int Merged)> merges)
    {
        int bits = 4;
        while ((1 << bits) < merges.Count * 2)
            bits++;
        _entries = new Entry[1 << bits];
        _shift = 64 - bits;
        foreach (ref var e in _entries.AsSpan())
            e.Key = Empty;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right, merged) = merges[rank];
            ulong key = Key(left, right);
            int slot = Slot(key);
            while (_entries[slot].Key != Empty && _entries[slot].Key != key)
                slot = (slot + 1) & (_entries.Length - 1);
            if (_entries[slot].Key == Empty)
                Count++;
            // A repeated rule takes its last rank, as Hugging Face's map (built by inserting in order) does.
            _entries[slot] = new Entry { Key = key, Rank = rank, MergedId = merged };
        }
    }

    public int Count { get; }

    /// <summary>The rank of merging <paramref name="left"/> then <paramref name="right"/>, or false if no rule does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(int left, int right, out int rank, out int mergedId)
    {
        ulong key = Key(left, right);
        int mask = _entries.Length - 1;
        for (int slot = Slot(key); ; slot = (slot + 1) & mask)
        {
            ref var e = ref _entries[slot];
            if (e.Key == key)
            {
                rank = e.Rank;
                mergedId = e.MergedId;
                return true;
            }
            if (e.Key == Empty)
            {
                rank = mergedId = -1;
                return false;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Key(int left, int right) => ((ulong)(uint)left << 32) | (uint)right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
}
