using System.Text.RegularExpressions;

namespace SeekSharp.Tokenization;

/// <summary>
/// A sequence of Hugging Face "Split" steps with behaviour "Isolated", run with .NET's <see cref="Regex"/>: each
/// step cuts every piece of the step before into its matches and the gaps between them. This is the readable
/// reference for <see cref="DeepSeekPreTokenizer"/> and the fallback for patterns SeekSharp has no hand-written
/// splitter for. Caveat: .NET's regex classes see UTF-16 units, so \p{..} never matches a character outside the
/// Basic Multilingual Plane (an emoji is two "Cs" units here, one "So" code point in Hugging Face's Oniguruma).
/// </summary>
internal sealed class RegexPreTokenizer : PreTokenizer
{
    // GPT-2's pattern, which a ByteLevel pre-tokenizer with use_regex=true applies.
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly Regex[] _steps;

    public RegexPreTokenizer(IEnumerable<string> patterns)
    {
        _steps = patterns.Select(Compile).ToArray();
    }

    public IReadOnlyList<string> Patterns => _steps.Select(r => r.ToString()).ToArray();

    public override void Split(ReadOnlySpan<char> text, PieceBuffer pieces)
    {
        var current = new List<(int Start, int End)> { (0, text.Length) };
        if (text.Length == 0)
            current.Clear();
        foreach (var regex in _steps)
        {
            var next = new List<(int Start, int End)>();
            foreach (var (start, end) in current)
                SplitIsolated(regex, text[start..end], start, next);
            current = next;
        }
        foreach (var (start, end) in current)
            pieces.Add(start, end);
    }

    private static void SplitIsolated(Regex regex, ReadOnlySpan<char> piece, int offset, List<(int, int)> output)
    {
        int gapStart = 0;
        foreach (var match in regex.EnumerateMatches(piece))
        {
            if (match.Length == 0)
                continue;   // Hugging Face drops empty matches
            if (gapStart < match.Index)
                output.Add((offset + gapStart, offset + match.Index));
            output.Add((offset + match.Index, offset + match.Index + match.Length));
            gapStart = match.Index + match.Length;
        }
        if (gapStart < piece.Length)
            output.Add((offset + gapStart, offset + piece.Length));
    }

    private static Regex Compile(string pattern)
    {
        try
        {
            // Built once per tokenizer; Compiled because this is on the encoding path when it is used at all.
            return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerException($"pre-tokenizer regex '{pattern}' is not supported by .NET's Regex: {e.Message}", e);
        }
    }
}
