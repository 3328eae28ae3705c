using System.Collections.Concurrent;

namespace SeekSharp.Tokenization;

/// <summary>
/// Remembers the ids of pieces already encoded (" the", "ing", "\n\n"), looked up by the piece's characters
/// without allocating a key. Safe for concurrent readers and writers; when full it is emptied and refills with
/// what the text uses now, so a long-running server keeps a relevant cache in bounded memory.
/// </summary>
internal sealed class PieceCache
{
    /// <summary>Longer pieces are rare and would only crowd the cache.</summary>
    public const int MaxPieceLength = 64;

    private readonly ConcurrentDictionary<string, int[]> _map;
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _capacity;
    private int _count;

    public PieceCache(int capacity)
    {
        _capacity = capacity;
        _map = new ConcurrentDictionary<string, int[]>(concurrencyLevel: Environment.ProcessorCount, capacity: 16_384);
        _lookup = _map.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public bool TryGet(ReadOnlySpan<char> piece, out int[] ids) => _lookup.TryGetValue(piece, out ids!);

    public void Add(ReadOnlySpan<char> piece, int[] ids)
    {
        if (piece.Length > MaxPieceLength)
            return;
        if (Interlocked.Increment(ref _count) > _capacity)
        {
            // Rare; several threads may clear at once, which is harmless.
            _map.Clear();
            Interlocked.Exchange(ref _count, 0);
        }
        _lookup.TryAdd(piece, ids);
    }
}
