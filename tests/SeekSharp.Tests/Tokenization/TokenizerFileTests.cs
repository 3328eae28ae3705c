using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class TokenizerFileTests
{
    [Fact]
    public void DeepSeekV3SavesAndLoadsBackIdentically()
    {
        string folder = TokenizerData.TempFolder();
        try
        {
            var original = TokenizerData.DeepSeekV3;
            original.Save(folder);
            var copy = Tokenizer.Load(Path.Combine(folder, "tokenizer.json"));   // a file path works as well as a folder
            Assert.Equal(original.VocabSize, copy.VocabSize);
            Assert.Equal(original.AddedTokens, copy.AddedTokens);
            Assert.Equal((original.BosId, original.EosId, original.PadId, original.AddBosToken), (copy.BosId, copy.EosId, copy.PadId, copy.AddBosToken));
            Assert.Equal(original.ChatTemplate!.Source, copy.ChatTemplate!.Source);
            for (int id = 0; id < original.VocabSize; id += 7)
                Assert.Equal(original.IdToToken(id), copy.IdToToken(id));
            foreach (var (text, ids) in TokenizerData.EncodeCases())
                Assert.Equal(ids, copy.Encode(text));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load("/definitely/not/here"));
        Assert.Contains("/definitely/not/here", e.Message);
        string folder = TokenizerData.TempFolder();
        try
        {
            var empty = Assert.Throws<TokenizerException>(() => Tokenizer.Load(folder));
            Assert.Contains("no tokenizer.json", empty.Message);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {}}}""", "WordPiece")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}""", "'b'")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}""", "'ab'")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}}""", "id 0")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}}""", "model.vocab['a']")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {}}}""", "'merges' is missing")]
    [InlineData("""{"normalizer": {"type": "NFKC"}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "NFKC")]
    [InlineData("""{"pre_tokenizer": {"type": "Metaspace"}, "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "ByteLevel")]
    [InlineData("""{"pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "WordPiece"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "decoder")]
    [InlineData("""{"added_tokens": [{"id": -1, "content": "x"}], "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "added_tokens[0]")]
    [InlineData("""{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?<x"}, "behavior": "Isolated"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "ByteLevel")]
    public void MalformedTokenizerJsonNamesTheProblem(string json, string mentioned)
    {
        string folder = TokenizerData.TempFolder();
        try
        {
            File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json);
            var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(folder));
            Assert.Contains(mentioned, e.Message);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void ABadConfigNamesTheField()
    {
        string folder = TokenizerData.TempFolder();
        try
        {
            File.Copy(Path.Combine(TokenizerData.DeepSeekV3Folder, "tokenizer.json"), Path.Combine(folder, "tokenizer.json"));
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"bos_token": "<not-a-token>"}""");
            var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(folder));
            Assert.Contains("bos_token", e.Message);
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"add_bos_token": "yes"}""");
            Assert.Contains("add_bos_token", Assert.Throws<TokenizerException>(() => Tokenizer.Load(folder)).Message);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void AGpt2StyleFileUsesTheRegexPreTokenizerAndAddedTokenFlags()
    {
        // A tiny hand-made byte-level BPE with GPT-2's ByteLevel regex and an lstrip/rstrip added token.
        string folder = TokenizerData.TempFolder();
        try
        {
            var vocab = string.Join(", ", Enumerable.Range(0, 256).Select(b => $"\"{Escape(ByteLevel.ByteToChar[b])}\": {b}"));
            File.WriteAllText(Path.Combine(folder, "tokenizer.json"), $$$"""
                {"added_tokens": [{"id": 259, "content": "<mask>", "lstrip": true, "rstrip": true, "special": true, "normalized": false}],
                 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
                 "decoder": {"type": "ByteLevel"},
                 "model": {"type": "BPE", "vocab": { {{{vocab}}}, "Ġt": 256, "he": 257, "Ġthe": 258 }, "merges": ["Ġ t", "h e", "Ġt he"]}}
                """);
            var tok = Tokenizer.Load(folder);
            Assert.Equal(260, tok.VocabSize);
            Assert.Equal([258, 258], tok.Encode(" the the"));
            // lstrip/rstrip: <mask> absorbs the spaces on both sides, so "the" after it has no leading space.
            Assert.Equal([258, 259, 116, 257], tok.Encode(" the  <mask>  the"));
            Assert.Equal(" thethe", tok.Decode([258, 259, 116, 257], skipSpecialTokens: true));
            Assert.Equal(" the<mask>the", tok.Decode([258, 259, 116, 257]));
        }
        finally
        {
            Directory.Delete(folder, true);
        }

        static string Escape(char c) => c switch { '"' => "\\\"", '\\' => "\\\\", _ => c.ToString() };
    }
}
