using System.Globalization;
using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization;

/// <summary>The character classes DeepSeek-V3's pre-tokenizer regexes test, as bit flags.</summary>
[Flags]
internal enum CharClass : byte
{
    None = 0,
    /// <summary>\p{L}</summary>
    Letter = 1,
    /// <summary>\p{M}</summary>
    Mark = 2,
    /// <summary>\p{N}</summary>
    Number = 4,
    /// <summary>\p{P}</summary>
    Punctuation = 8,
    /// <summary>\p{S}</summary>
    Symbol = 16,
    /// <summary>\s: the Unicode White_Space set (tab..CR, space, U+0085, and the Z categories).</summary>
    Space = 32,
    /// <summary>[一-龥぀-ゟ゠-ヿ]: U+4E00–U+9FA5, hiragana U+3040–U+309F, katakana U+30A0–U+30FF.</summary>
    Cjk = 64,
}

/// <summary>
/// Classifies code points, not UTF-16 units: an emoji or a CJK Extension B character (a surrogate pair) is one
/// code point with its own category, as in Oniguruma (Hugging Face's regex engine) and unlike .NET's Regex,
/// whose \p{..} only ever sees one UTF-16 unit. A lone surrogate is a code point of category Cs: it has no flag.
/// </summary>
internal static class UnicodeClasses
{
    // One byte per BMP character (64 KiB, built once): the pre-tokenizer's inner loop is a table load.
    private static readonly CharClass[] Bmp = BuildBmp();

    /// <summary>
    /// The class of the code point at <paramref name="i"/> (which must be below <paramref name="end"/>) and how
    /// many UTF-16 units it takes. A surrogate pair that straddles <paramref name="end"/> counts as lone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CharClass At(ReadOnlySpan<char> s, int i, int end, out int width)
    {
        char c = s[i];
        width = 1;
        if (!char.IsSurrogate(c))
            return Bmp[c];
        return AtSurrogate(s, i, end, ref width);
    }

    private static CharClass AtSurrogate(ReadOnlySpan<char> s, int i, int end, ref int width)
    {
        char c = s[i];
        if (char.IsHighSurrogate(c) && i + 1 < end && char.IsLowSurrogate(s[i + 1]))
        {
            width = 2;
            return Of(char.ConvertToUtf32(c, s[i + 1]));
        }
        return CharClass.None;
    }

    /// <summary>The class of one code point.</summary>
    public static CharClass Of(int codePoint)
    {
        if (codePoint < 0x10000)
            return Bmp[codePoint];
        return FromCategory(CharUnicodeInfo.GetUnicodeCategory(codePoint));
    }

    /// <summary>White_Space: what Oniguruma's and .NET's \s both match.</summary>
    public static bool IsWhiteSpace(int c) =>
        c is (>= 0x09 and <= 0x0D) or 0x20 or 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A)
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    private static CharClass[] BuildBmp()
    {
        var table = new CharClass[0x10000];
        for (int c = 0; c < table.Length; c++)
        {
            var cls = char.IsSurrogate((char)c) ? CharClass.None : FromCategory(CharUnicodeInfo.GetUnicodeCategory((char)c));
            if (IsWhiteSpace(c))
                cls |= CharClass.Space;
            if (c is (>= 0x4E00 and <= 0x9FA5) or (>= 0x3040 and <= 0x30FF))
                cls |= CharClass.Cjk;
            table[c] = cls;
        }
        return table;
    }

    private static CharClass FromCategory(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CharClass.Mark,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => CharClass.Punctuation,
        UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
            or UnicodeCategory.OtherSymbol => CharClass.Symbol,
        _ => CharClass.None,
    };
}
