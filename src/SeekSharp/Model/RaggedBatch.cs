namespace SeekSharp.Model;

/// <summary>
/// One sequence's rows in a forward: <see cref="Length"/> tokens from row <see cref="RowStart"/>, at positions
/// <see cref="Position"/>, <see cref="Position"/> + 1, … With a <see cref="Cache"/> the segment continues that
/// sequence: its latents are written into the cache at those positions and it attends to everything the cache holds
/// before them; without one it attends only to itself.
/// </summary>
public readonly record struct BatchSegment(int RowStart, int Length, int Position, LatentKvCache? Cache);

/// <summary>
/// The general layout of a forward's N rows: consecutive segments, one per sequence, each of its own length, at its own
/// position, with its own cache. Decoding several conversations in one forward (one row each), prefilling some while
/// decoding others, and verifying speculative drafts are all ragged batches; <see cref="BatchLayout"/>'s equal-length
/// sequences are the special case training uses. Reusable: <see cref="Clear"/> and <see cref="Add"/> allocate nothing
/// once the arrays have grown.
/// </summary>
public sealed class RaggedBatch
{
    private BatchSegment[] _segments = new BatchSegment[4];
    private int[] _positions = new int[16];
    private int _count;

    /// <summary>Rows in all segments.</summary>
    public int Rows { get; private set; }

    /// <summary>The segments in row order.</summary>
    public ReadOnlySpan<BatchSegment> Segments => _segments.AsSpan(0, _count);

    /// <summary>The position of every row (a segment's position plus the row's offset in it).</summary>
    public ReadOnlySpan<int> Positions => _positions.AsSpan(0, Rows);

    public void Clear()
    {
        _count = 0;
        Rows = 0;
    }

    /// <summary>Appends a segment of <paramref name="length"/> rows at positions <paramref name="position"/>.. (with its sequence's cache, or none).</summary>
    public RaggedBatch Add(int length, int position, LatentKvCache? cache = null)
    {
        if (length <= 0) throw new InvalidInputException($"A segment needs at least one token, got {length}.");
        if (position < 0) throw new InvalidInputException($"A segment cannot start at position {position}.");
        if (_count == _segments.Length) Array.Resize(ref _segments, 2 * _count);
        if (_positions.Length < Rows + length) Array.Resize(ref _positions, Math.Max(Rows + length, 2 * _positions.Length));
        _segments[_count++] = new BatchSegment(Rows, length, position, cache);
        for (int i = 0; i < length; i++) _positions[Rows + i] = position + i;
        Rows += length;
        return this;
    }

    /// <summary>Makes this batch describe <paramref name="layout"/> (no caches), or, with a cache, its one sequence continuing in it.</summary>
    public RaggedBatch Set(BatchLayout layout, LatentKvCache? cache = null)
    {
        if (cache is not null && layout.Batch != 1) throw new InvalidInputException("A cached forward of a BatchLayout takes one sequence; use a RaggedBatch for several.");
        Clear();
        for (int b = 0; b < layout.Batch; b++) Add(layout.SeqLen, layout.StartPosition, cache);
        return this;
    }

    /// <summary>Whether every segment has the same length and position and none has a cache: a <see cref="BatchLayout"/>.</summary>
    public bool TryGetUniform(out BatchLayout layout)
    {
        layout = default;
        if (_count == 0) return false;
        var first = _segments[0];
        for (int s = 0; s < _count; s++)
            if (_segments[s].Cache is not null || _segments[s].Length != first.Length || _segments[s].Position != first.Position) return false;
        layout = new BatchLayout(_count, first.Length, first.Position);
        return true;
    }

    /// <summary>Checks the caches before a forward writes into them: room, no gap before a segment, one segment per cache.</summary>
    internal void ValidateCaches(int maxPositions)
    {
        for (int s = 0; s < _count; s++)
        {
            var seg = _segments[s];
            int end = seg.Position + seg.Length;
            if (seg.Cache is not { } cache)
            {
                if (end > maxPositions) throw new InvalidInputException($"Sequence of {end} positions exceeds max_position_embeddings ({maxPositions}).");
                continue;
            }
            if (end > cache.Capacity) throw new ContextFullException(cache.Capacity, end);
            if (seg.Position > cache.Length) throw new InvalidInputException($"Segment {s} starts at position {seg.Position}, but its cache holds only {cache.Length}.");
            for (int o = 0; o < s; o++)
                if (ReferenceEquals(_segments[o].Cache, cache)) throw new InvalidInputException($"Segments {o} and {s} write the same cache.");
        }
    }

    /// <summary>After every layer wrote its latents: each cache holds its sequence up to the segment's end.</summary>
    internal void CommitCaches()
    {
        for (int s = 0; s < _count; s++)
            if (_segments[s].Cache is { } cache) cache.Length = _segments[s].Position + _segments[s].Length;
    }
}
