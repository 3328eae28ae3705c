using System.Text;
using System.Text.Json;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class BpeTrainerTests
{
    // About 300 KB of mixed text: the reference cases' texts and seeded pseudo-words (Latin, Cyrillic, CJK, emoji, code).
    private static readonly Lazy<string> Corpus = new(() =>
    {
        var rng = new Random(5);
        var sb = new StringBuilder();
        var cases = TokenizerData.EncodeCases().Select(c => c.Text).Where(t => t.Length > 0).ToList();
        string[] syllables = ["ka", "to", "ri", "en", "sch", "ung", "the", "ing", "при", "вет", "深度", "求索", "模型", "🙂", "é", "ß"];
        while (sb.Length < 300_000)
        {
            if (rng.Next(4) == 0)
                sb.Append(cases[rng.Next(cases.Count)]);
            else
                for (int w = rng.Next(3, 15); w > 0; w--)
                {
                    sb.Append(rng.Next(8) == 0 ? "  " : " ");
                    for (int s = rng.Next(1, 4); s > 0; s--)
                        sb.Append(syllables[rng.Next(syllables.Length)]);
                    if (rng.Next(10) == 0)
                        sb.Append(rng.Next(2) == 0 ? "," : $" {rng.Next(10000)}");
                }
            sb.Append(rng.Next(3) == 0 ? "\n\n" : "\n");
        }
        return sb.ToString();
    });

    private static readonly Lazy<Tokenizer> Trained = new(() => BpeTrainer.TrainFromTexts([Corpus.Value], new BpeTrainerOptions(VocabSize: 1000)));

    [Fact]
    public void TrainedVocabularyRoundTripsEveryLineAndCompresses()
    {
        var tok = Trained.Value;
        Assert.Equal(1000, tok.VocabSize);
        long tokens = 0, bytes = 0;
        foreach (string line in Corpus.Value.Split('\n'))
        {
            var ids = tok.Encode(line);
            Assert.Equal(line, tok.Decode(ids));
            tokens += ids.Length;
            bytes += Encoding.UTF8.GetByteCount(line);
        }
        // Merges must have been learned: byte-per-token would be 1.0.
        Assert.True(bytes / (double)tokens > 2.5, $"only {bytes / (double)tokens:F2} bytes per token");
    }

    [Fact]
    public void TrainedTokenizerHasDeepSeekLayoutAndTemplate()
    {
        var tok = Trained.Value;
        Assert.Equal((0, 1, 2), (tok.BosId!.Value, tok.EosId!.Value, tok.PadId!.Value));
        Assert.True(tok.AddBosToken);
        Assert.Equal(1000 - 12, tok.TokenToId("<｜User｜>"));
        Assert.Equal(1000 - 11, tok.TokenToId("<｜Assistant｜>"));
        Assert.Equal(ChatTemplateKind.DeepSeekV3, tok.ChatTemplate!.Kind);
        var ids = tok.EncodeChat([ChatMessage.User("Hi"), ChatMessage.Assistant("Hello")], addGenerationPrompt: false);
        Assert.Equal(0, ids[0]);
        Assert.Contains(tok.TokenToId("<｜User｜>")!.Value, ids);
        Assert.Equal(1, ids[^1]);
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>Hello<｜end▁of▁sentence｜>", tok.Decode(ids));
    }

    [Fact]
    public void MergesFollowPairFrequency()
    {
        var tok = BpeTrainer.TrainFromTexts(["ab ab ab ab cd"], new BpeTrainerOptions(VocabSize: 5000));
        // (a,b) occurs 4 times, then (Ġ,ab) 3 times; every other pair once, below the minimum frequency of 2.
        Assert.Equal(BpeTrainer.MinimumVocabSize + 2, tok.VocabSize);
        Assert.Equal("ab", tok.IdToToken(259));
        Assert.Equal("Ġab", tok.IdToToken(260));
        Assert.Equal([259, 260, 260, 260, 35, 102, 103], tok.Encode("ab ab ab ab cd"));
    }

    [Fact]
    public void TrainingFromFilesIsDeterministicAndSavesWhatLoadsBackIdentically()
    {
        string folder = TokenizerData.TempFolder();
        try
        {
            string input = Path.Combine(folder, "corpus.txt");
            File.WriteAllText(input, Corpus.Value);
            var options = new BpeTrainerOptions(VocabSize: 700, Threads: 2);
            var first = BpeTrainer.TrainFromFiles([input], options);
            var second = BpeTrainer.TrainFromFiles([folder], options);   // a folder means its files
            first.Save(Path.Combine(folder, "a"));
            second.Save(Path.Combine(folder, "b"));
            foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json" })
                Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "a", name)), File.ReadAllBytes(Path.Combine(folder, "b", name)));

            var loaded = Tokenizer.Load(Path.Combine(folder, "a"));
            Assert.Equal(first.VocabSize, loaded.VocabSize);
            for (int id = 0; id < first.VocabSize; id++)
                Assert.Equal(first.IdToToken(id), loaded.IdToToken(id));
            Assert.Equal(first.AddedTokens, loaded.AddedTokens);
            Assert.Equal(first.ChatTemplate!.Source, loaded.ChatTemplate!.Source);
            foreach (string line in Corpus.Value.Split('\n').Take(300))
                Assert.Equal(first.Encode(line), loaded.Encode(line));

            // What Hugging Face needs to see: DeepSeek-V3's pre-tokenizer and a byte-level BPE model.
            using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "a", "tokenizer.json")));
            var steps = json.RootElement.GetProperty("pre_tokenizer").GetProperty("pretokenizers");
            Assert.Equal(DeepSeekPreTokenizer.GptPattern, steps[2].GetProperty("pattern").GetProperty("Regex").GetString());
            Assert.Equal("BPE", json.RootElement.GetProperty("model").GetProperty("type").GetString());
            Assert.Empty(Directory.GetFiles(Path.Combine(folder, "a"), "*.tmp"));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void BadOptionsAndInputsAreTypedErrors()
    {
        Assert.Throws<InvalidInputException>(() => new BpeTrainerOptions(VocabSize: 100));
        Assert.Throws<InvalidInputException>(() => new BpeTrainerOptions(VocabSize: 1000, MinFrequency: 0));
        var e = Assert.Throws<TokenizerException>(() => BpeTrainer.TrainFromFiles(["/no/such/file.txt"], new BpeTrainerOptions(1000)));
        Assert.Contains("/no/such/file.txt", e.Message);
    }
}
