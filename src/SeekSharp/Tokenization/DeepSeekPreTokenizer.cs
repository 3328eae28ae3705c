namespace SeekSharp.Tokenization;

/// <summary>
/// DeepSeek-V3's pre-tokenizer, hand-written: the same pieces as its three "Isolated" regex splits, applied in
/// sequence (each split sees only the pieces of the one before, so look-ahead stops at a piece boundary):
/// <list type="number">
/// <item><c>\p{N}{1,3}</c>: numbers, in runs of at most three code points;</item>
/// <item><c>[一-龥぀-ゟ゠-ヿ]+</c>: runs of CJK ideographs and kana;</item>
/// <item><see cref="GptPattern"/>: a GPT-like word splitter, whose six alternatives <see cref="MatchAt"/> spells out.</item>
/// </list>
/// Text that no alternative matches (a "gap") is a piece of its own. It works on code points, as Oniguruma does,
/// so characters outside the Basic Multilingual Plane get their real category. <see cref="RegexPreTokenizer"/>
/// built from the same strings is the slow reference that tests compare this with.
/// </summary>
internal sealed class DeepSeekPreTokenizer : PreTokenizer
{
    public const string DigitsPattern = @"\p{N}{1,3}";
    public const string CjkPattern = "[一-龥぀-ゟ゠-ヿ]+";
    public const string GptPattern =
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

    /// <summary>The patterns in the order tokenizer.json lists them.</summary>
    public static readonly string[] Patterns = [DigitsPattern, CjkPattern, GptPattern];

    public static readonly DeepSeekPreTokenizer Instance = new();

    private const CharClass LetterOrMark = CharClass.Letter | CharClass.Mark;
    private const CharClass PunctOrSymbol = CharClass.Punctuation | CharClass.Symbol;

    public override void Split(ReadOnlySpan<char> text, PieceBuffer pieces)
    {
        // Split 1: number runs of at most three code points; everything between goes to split 2.
        int gapStart = 0, i = 0;
        while (i < text.Length)
        {
            if ((UnicodeClasses.At(text, i, text.Length, out int width) & CharClass.Number) == 0)
            {
                i += width;
                continue;
            }
            if (gapStart < i)
                SplitCjk(text, gapStart, i, pieces);
            int start = i;
            i += width;
            for (int n = 1; n < 3 && i < text.Length; n++)
            {
                if ((UnicodeClasses.At(text, i, text.Length, out width) & CharClass.Number) == 0)
                    break;
                i += width;
            }
            // Split 3 would leave a run of numbers whole (no alternative matches a number not followed by a letter).
            pieces.Add(start, i);
            gapStart = i;
        }
        if (gapStart < text.Length)
            SplitCjk(text, gapStart, text.Length, pieces);
    }

    /// <summary>Split 2 on [start, end): CJK runs and the gaps between them, each handed to split 3.</summary>
    private static void SplitCjk(ReadOnlySpan<char> text, int start, int end, PieceBuffer pieces)
    {
        int gapStart = start, i = start;
        while (i < end)
        {
            if ((UnicodeClasses.At(text, i, end, out int width) & CharClass.Cjk) == 0)
            {
                i += width;
                continue;
            }
            if (gapStart < i)
                SplitWords(text, gapStart, i, pieces);
            int runStart = i;
            while (i < end && (UnicodeClasses.At(text, i, end, out width) & CharClass.Cjk) != 0)
                i += width;
            // The run itself still goes through split 3: kana punctuation (・, ゠) and marks (゙) split off there.
            SplitWords(text, runStart, i, pieces);
            gapStart = i;
        }
        if (gapStart < end)
            SplitWords(text, gapStart, end, pieces);
    }

    /// <summary>Split 3 on [start, end): leftmost matches of <see cref="GptPattern"/>, and the gaps between them.</summary>
    private static void SplitWords(ReadOnlySpan<char> text, int start, int end, PieceBuffer pieces)
    {
        int gapStart = start, i = start;
        while (i < end)
        {
            int matchEnd = MatchAt(text, i, end, out int width);
            if (matchEnd < 0)
            {
                i += width;
                continue;
            }
            if (gapStart < i)
                pieces.Add(gapStart, i);
            pieces.Add(i, matchEnd);
            i = gapStart = matchEnd;
        }
        if (gapStart < end)
            pieces.Add(gapStart, end);
    }

    /// <summary>
    /// Where the first alternative of <see cref="GptPattern"/> that matches at <paramref name="i"/> ends, or -1.
    /// Every quantifier is greedy and nothing follows it within its alternative, so each alternative's match is
    /// the longest run its classes allow; only \s*[\r\n]+ and \s+(?!\S) need their backtracking worked out.
    /// </summary>
    private static int MatchAt(ReadOnlySpan<char> s, int i, int end, out int width)
    {
        char c = s[i];
        var cls = UnicodeClasses.At(s, i, end, out width);
        int next = i + width;
        var nextCls = next < end ? UnicodeClasses.At(s, next, end, out _) : CharClass.None;

        // 1. [ASCII punctuation][A-Za-z]+   ("'s", ".NET", "_name")
        if (c < 0x80 && (cls & PunctOrSymbol) != 0 && next < end && char.IsAsciiLetter(s[next]))
            return RunOfAsciiLetters(s, next, end);

        // 2. [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+   (a word, with one leading space, digit-free separator or mark)
        bool prefixable = (cls & (CharClass.Letter | PunctOrSymbol)) == 0 && c != '\r' && c != '\n';
        if (prefixable && (nextCls & LetterOrMark) != 0)
            return RunOf(s, next, end, LetterOrMark);
        if ((cls & LetterOrMark) != 0)
            return RunOf(s, i, end, LetterOrMark);

        // 3. ' '?[\p{P}\p{S}]+[\r\n]*   (punctuation and symbols, emoji included, with the line breaks after them)
        if (c == ' ' && (nextCls & PunctOrSymbol) != 0)
            return RunOfLineBreaks(s, RunOf(s, next, end, PunctOrSymbol), end);
        if ((cls & PunctOrSymbol) != 0)
            return RunOfLineBreaks(s, RunOf(s, i, end, PunctOrSymbol), end);

        if ((cls & CharClass.Space) == 0)
            return -1;
        int spaceEnd = RunOf(s, i, end, CharClass.Space);   // white space is all in the BMP: one unit each

        // 4. \s*[\r\n]+   backtracks to the last line break of the white-space run.
        for (int k = spaceEnd - 1; k >= i; k--)
            if (s[k] == '\r' || s[k] == '\n')
                return k + 1;

        // 5. \s+(?!\S)   the whole run at the end of the piece, else all of it but the last character...
        if (spaceEnd == end)
            return end;
        if (spaceEnd - i >= 2)
            return spaceEnd - 1;

        // 6. \s+   ...which leaves a lone space before a non-space character.
        return spaceEnd;
    }

    private static int RunOf(ReadOnlySpan<char> s, int i, int end, CharClass classes)
    {
        while (i < end && (UnicodeClasses.At(s, i, end, out int width) & classes) != 0)
            i += width;
        return i;
    }

    private static int RunOfAsciiLetters(ReadOnlySpan<char> s, int i, int end)
    {
        while (i < end && char.IsAsciiLetter(s[i]))
            i++;
        return i;
    }

    private static int RunOfLineBreaks(ReadOnlySpan<char> s, int i, int end)
    {
        while (i < end && (s[i] == '\r' || s[i] == '\n'))
            i++;
        return i;
    }
}
