namespace SeekSharp.Tokenization;

/// <summary>
/// Cuts text into pieces before BPE; BPE never merges across a piece boundary. Implementations are immutable and
/// thread-safe: all per-call state lives in the caller's <see cref="PieceBuffer"/>.
/// </summary>
internal abstract class PreTokenizer
{
    /// <summary>Appends the pieces of <paramref name="text"/>, in order, as [start, end) offsets into it.</summary>
    public abstract void Split(ReadOnlySpan<char> text, PieceBuffer pieces);

    /// <summary>The pieces as strings: for tests and the trainer's diagnostics, not the hot path.</summary>
    public List<string> SplitToStrings(string text)
    {
        var pieces = new PieceBuffer();
        Split(text, pieces);
        var result = new List<string>(pieces.Count);
        for (int i = 0; i < pieces.Count; i++)
            result.Add(text[pieces.Start(i)..pieces.End(i)]);
        return result;
    }
}

/// <summary>A growable list of [start, end) ranges, reused across calls by one thread.</summary>
internal sealed class PieceBuffer
{
    private int[] _bounds = new int[256];

    public int Count { get; private set; }

    public int Start(int i) => _bounds[2 * i];

    public int End(int i) => _bounds[2 * i + 1];

    public void Add(int start, int end)
    {
        if (2 * Count + 2 > _bounds.Length)
            Array.Resize(ref _bounds, _bounds.Length * 2);
        _bounds[2 * Count] = start;
        _bounds[2 * Count + 1] = end;
        Count++;
    }

    public void Clear() => Count = 0;
}
