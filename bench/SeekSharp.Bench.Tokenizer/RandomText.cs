using System.Globalization;
using System.Text;

namespace SeekSharp.Bench.Tokenizer;

/// <summary>
/// Random Unicode text for agreement checks: runs drawn from many scripts and classes (ASCII, Latin, Cyrillic,
/// Greek, Arabic, Devanagari, Thai, CJK and kana including their punctuation, Hangul, combining marks, general
/// punctuation and odd spaces, control characters, emoji with ZWJ and modifiers, astral letters and digits,
/// CJK Extension B), with DeepSeek-V3's special tokens now and then. Only assigned code points, and no lone
/// surrogates (a Rust string cannot hold one).
/// </summary>
internal static class RandomText
{
    private static readonly (int From, int To, int Weight)[] Ranges =
    [
        (0x20, 0x7E, 30), (0x09, 0x0D, 6), (0x00, 0x1F, 1), (0x80, 0xFF, 4), (0x100, 0x24F, 3), (0x300, 0x36F, 3),
        (0x370, 0x3FF, 2), (0x400, 0x4FF, 3), (0x590, 0x5FF, 1), (0x600, 0x6FF, 2), (0x900, 0x97F, 2), (0xE00, 0xE7F, 2),
        (0x2000, 0x206F, 4), (0x20A0, 0x20CF, 1), (0x2190, 0x22FF, 2), (0x2460, 0x24FF, 1), (0x2600, 0x27BF, 2),
        (0x3000, 0x303F, 3), (0x3040, 0x30FF, 5), (0x4E00, 0x9FFF, 6), (0xAC00, 0xD7A3, 3), (0xFE00, 0xFE0F, 1),
        (0xFF00, 0xFFEF, 3), (0x1D400, 0x1D7FF, 2), (0x1F1E6, 0x1F1FF, 1), (0x1F300, 0x1FAFF, 5), (0x20000, 0x2A6DF, 2),
        (0x1F3FB, 0x1F3FF, 1), (0x200D, 0x200D, 1), (0xE000, 0xF8FF, 1),
    ];

    private static readonly string[] Specials =
        ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<|EOT|>", "<｜fim▁hole｜>", "<｜begin▁of", "<｜"];

    public static string Next(XorShift rng, int maxLength)
    {
        int totalWeight = Ranges.Sum(r => r.Weight);
        var sb = new StringBuilder();
        int length = 1 + rng.Next(maxLength);
        while (sb.Length < length)
        {
            if (rng.Next(40) == 0)
            {
                sb.Append(Specials[rng.Next(Specials.Length)]);
                continue;
            }
            int pick = rng.Next(totalWeight);
            var range = Ranges.First(r => (pick -= r.Weight) < 0);
            int run = 1 + rng.Next(6);   // runs of one class, so words and number groups form
            for (int i = 0; i < run; i++)
            {
                int cp = range.From + rng.Next(range.To - range.From + 1);
                if (CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate)
                    continue;
                sb.Append(char.ConvertFromUtf32(cp));
            }
        }
        return sb.ToString();
    }
}
