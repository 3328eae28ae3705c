using System.Globalization;
using System.Text;
using System.Text.Json;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class PreTokenizerTests
{
    private static readonly Lazy<TokenizerFile> DeepSeekFile = new(() =>
        TokenizerJsonReader.Read(Path.Combine(TokenizerData.DeepSeekV3Folder, "tokenizer.json")));

    // The patterns exactly as tokenizer.json spells them: the reference is built from the file, not from our constants.
    private static readonly Lazy<RegexPreTokenizer> Reference = new(() =>
    {
        var steps = DeepSeekFile.Value.PreTokenizer!.Value.GetProperty("pretokenizers").EnumerateArray()
            .Where(s => s.GetProperty("type").GetString() == "Split")
            .Select(s => s.GetProperty("pattern").GetProperty("Regex").GetString()!);
        return new RegexPreTokenizer(steps);
    });

    [Fact]
    public void DeepSeekFilesGetTheHandWrittenSplitter()
    {
        Assert.Equal(DeepSeekPreTokenizer.Patterns, Reference.Value.Patterns);
        Assert.Same(DeepSeekPreTokenizer.Instance, Pipeline.CreatePreTokenizer(DeepSeekFile.Value.PreTokenizer, "test"));
    }

    [Theory]
    [InlineData("Hello, world!", new[] { "Hello", ",", " world", "!" })]
    [InlineData("12345678", new[] { "123", "456", "78" })]
    [InlineData("a  1", new[] { "a", "  ", "1" })]   // look-ahead stops at the number split's boundary
    [InlineData("深度求索DeepSeek", new[] { "深度求索", "DeepSeek" })]
    [InlineData("カタカナ・ひらがな", new[] { "カタカナ", "・", "ひらがな" })]
    [InlineData("don't use.NET .", new[] { "don", "'t", " use", ".NET", " ." })]
    [InlineData("x\n\n  y", new[] { "x", "\n\n", " ", " y" })]
    [InlineData("   leading", new[] { "  ", " leading" })]
    [InlineData("end  ", new[] { "end", "  " })]
    [InlineData("a(b)", new[] { "a", "(b", ")" })]
    [InlineData("ok!!\r\n\r\nnext", new[] { "ok", "!!\r\n\r\n", "next" })]
    public void SplitsLikeTheRegexes(string text, string[] pieces)
    {
        Assert.Equal(pieces, DeepSeekPreTokenizer.Instance.SplitToStrings(text));
        Assert.Equal(pieces, Reference.Value.SplitToStrings(text));
    }

    [Theory]
    [InlineData("𝟏𝟐𝟑𝟒", new[] { "𝟏𝟐𝟑", "𝟒" })]                 // astral digits: \p{N}{1,3} counts code points
    [InlineData("a🙂b", new[] { "a", "🙂", "b" })]                    // an emoji is one So code point
    [InlineData(" 🚀🔥!", new[] { " 🚀🔥!" })]                       // ' '?[\p{P}\p{S}]+
    [InlineData("x 𝐇𝐞𝐥𝐥𝐨", new[] { "x", " 𝐇𝐞𝐥𝐥𝐨" })]                // astral letters are \p{L}
    [InlineData("👨‍👩", new[] { "👨", "\u200D", "👩" })]              // ZWJ (Cf) followed by a symbol is a gap
    [InlineData("𠜎𠜱", new[] { "𠜎𠜱" })]                            // CJK Extension B: letters, outside the CJK split's ranges
    public void TreatsCharactersOutsideTheBmpAsCodePoints(string text, string[] pieces)
    {
        Assert.Equal(pieces, DeepSeekPreTokenizer.Instance.SplitToStrings(text));
    }

    [Fact]
    public void AgreesWithTheRegexesOnRandomBmpText()
    {
        // .NET's Regex is a faithful oracle wherever every character is one UTF-16 unit.
        var rng = new Random(1234);
        var alphabet = BuildBmpAlphabet();
        for (int n = 0; n < 3000; n++)
        {
            var sb = new StringBuilder();
            int length = rng.Next(1, 40);
            while (sb.Length < length)
            {
                var (chars, weight) = alphabet[rng.Next(alphabet.Count)];
                int run = rng.Next(1, 5);
                for (int i = 0; i < run; i++)
                    sb.Append(chars[rng.Next(chars.Length)]);
            }
            string text = sb.ToString();
            var expected = Reference.Value.SplitToStrings(text);
            var actual = DeepSeekPreTokenizer.Instance.SplitToStrings(text);
            Assert.True(expected.SequenceEqual(actual),
                $"{JsonSerializer.Serialize(text)}\n  regex {JsonSerializer.Serialize(expected)}\n  ours  {JsonSerializer.Serialize(actual)}");
        }
    }

    [Fact]
    public void EveryBmpCharacterAloneAndInContextAgreesWithTheRegexes()
    {
        for (int c = 0; c < 0x10000; c++)
        {
            if (char.IsSurrogate((char)c))
                continue;
            foreach (string text in new[] { $"{(char)c}", $" {(char)c}a", $"a{(char)c} ", $"{(char)c}{(char)c}\n", $"!{(char)c}x" })
            {
                var expected = Reference.Value.SplitToStrings(text);
                var actual = DeepSeekPreTokenizer.Instance.SplitToStrings(text);
                if (!expected.SequenceEqual(actual))
                    Assert.Fail($"U+{c:X4} in {JsonSerializer.Serialize(text)}: regex {JsonSerializer.Serialize(expected)}, ours {JsonSerializer.Serialize(actual)}");
            }
        }
    }

    // Groups of characters by the classes the patterns test, so random runs hit every alternative.
    private static List<(char[] Chars, int Weight)> BuildBmpAlphabet()
    {
        var byCategory = new Dictionary<UnicodeCategory, List<char>>();
        for (int c = 0; c < 0x10000; c++)
        {
            if (char.IsSurrogate((char)c))
                continue;
            var cat = CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (!byCategory.TryGetValue(cat, out var list))
                byCategory[cat] = list = new List<char>();
            list.Add((char)c);
        }
        var groups = byCategory.Values.Select(l => (l.ToArray(), 1)).ToList();
        groups.Add(("\r\n\t \u000B\u000C\u0085\u00A0\u3000\u2028".ToCharArray(), 3));
        groups.Add(("abcXYZ".ToCharArray(), 3));
        groups.Add(("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".ToCharArray(), 3));
        groups.Add(("0123456789".ToCharArray(), 2));
        groups.Add(("一二三深度求索ぁあゝゞ゛゜゠・ーヿ".ToCharArray(), 2));
        return groups;
    }
}
