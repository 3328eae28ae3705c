using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>Generation on the golden v3 model (it has an MTP module) with a 500-token BPE trained on the docs.</summary>
public class GenerationTests
{
    private static WorkerPool Pool => TinyChatModel.Pool;
    private static DeepSeekModel Model => TinyChatModel.Model;
    private static Tokenizer Tok => TinyChatModel.Tokenizer;

    private static (string Text, GenerationStats Stats, int[] Tokens) Run(string prompt, GenerationOptions options, int context = 128)
    {
        var session = new InferenceSession(Model, context, Pool);
        var generator = new Generator(session, Tok);
        var stats = new GenerationStats();
        var text = string.Concat(generator.Generate(Tok.Encode(prompt, addBos: true), options, stats));
        return (text, stats, session.Tokens.ToArray());
    }

    [Fact]
    public void GreedyTextOfTheTinyModelIsExactlyThis()
    {
        var (text, stats, tokens) = Run("SeekSharp is", new GenerationOptions { MaxTokens = 24, Sampling = SamplingOptions.Greedy });
        Assert.Equal(24, stats.GeneratedTokens);
        Assert.Equal(FinishReason.Length, stats.FinishReason);
        Assert.Equal(ExpectedGreedy, text);
        // The cache holds the prompt and every generated token but the last (which was never fed back).
        Assert.True(ExpectedIds.SequenceEqual(tokens[^23..]), "ids: " + string.Join(", ", tokens[^23..]));
    }

    // Random golden weights: gibberish, but exactly this gibberish (a change in any kernel or in decoding shows here).
    private const string ExpectedGreedy = "oate\uFFFD*\u0013C\uFFFDQ\u07C9*5w9 f00\v1_seF d00rc";
    private static readonly int[] ExpectedIds = [114, 360, 190, 45, 22, 70, 203, 84, 226, 140, 45, 56, 122, 60, 289, 338, 14, 52, 98, 363, 73, 314, 338];

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void SpeculativeGreedyEqualsPlainGreedy(int seed)
    {
        var prompt = seed == 1 ? "The model computes" : "DeepSeek-V3 is a Mixture-of-Experts";
        var plain = Run(prompt, new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy });
        var spec = Run(prompt, new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy, Speculative = SpeculativeMode.Mtp });
        Assert.Equal(plain.Text, spec.Text);
        Assert.Equal(plain.Stats.GeneratedTokens, spec.Stats.GeneratedTokens);
        Assert.True(spec.Stats.Drafted > 0);
    }

    [Theory]
    [InlineData(SeekSharp.Tensors.Quantization.QuantType.Q8_0)]
    [InlineData(SeekSharp.Tensors.Quantization.QuantType.Q4_0)]
    public void SpeculativeGreedyEqualsPlainGreedyWithQuantisedWeights(SeekSharp.Tensors.Quantization.QuantType type)
    {
        var model = ModelLoader.Load(new GoldenCase("v3_yarn_f32").Dir, new ModelLoadOptions { Quantization = type });
        string Gen(SpeculativeMode mode)
        {
            var g = new Generator(new InferenceSession(model, 128, Pool), Tok);
            return string.Concat(g.Generate(Tok.Encode("Quantised weights", true),
                new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy, Speculative = mode }, new GenerationStats()));
        }
        Assert.Equal(Gen(SpeculativeMode.Off), Gen(SpeculativeMode.Mtp));
    }

    [Fact]
    public void SameSeedSameTextWithAndWithoutSpeculation()
    {
        foreach (var mode in new[] { SpeculativeMode.Off, SpeculativeMode.Mtp })
        {
            var o = new GenerationOptions { MaxTokens = 30, Sampling = new SamplingOptions { Temperature = 1.0f, TopP = 0.9f, Seed = 42 }, Speculative = mode };
            var a = Run("Hello", o);
            var b = Run("Hello", o);
            Assert.Equal(a.Text, b.Text);
            var c = Run("Hello", o with { Sampling = o.Sampling with { Seed = 43 } });
            Assert.NotEqual(a.Text, c.Text);
        }
    }

    [Fact]
    public void StopStringAcrossTokensEndsTheReplyAndIsNeverShown()
    {
        var full = Run("SeekSharp is", new GenerationOptions { MaxTokens = 24, Sampling = SamplingOptions.Greedy }).Text;
        // Pick a stop string that straddles the middle of the greedy text.
        int mid = full.Length / 2;
        var stop = full.Substring(mid - 2, 4);
        int first = full.IndexOf(stop, StringComparison.Ordinal);
        var (text, stats, _) = Run("SeekSharp is", new GenerationOptions { MaxTokens = 24, Sampling = SamplingOptions.Greedy, StopStrings = [stop] });
        Assert.Equal(FinishReason.StopString, stats.FinishReason);
        Assert.Equal(full[..first], text);
    }

    [Fact]
    public void TheCacheIsSizedForTheContextAndAFullContextEndsTheReply()
    {
        var model = Model;
        var session = new InferenceSession(model, 16, Pool);
        var c = model.Config;
        Assert.Equal((long)c.NumHiddenLayers * 16 * (c.KvLoraRank + c.QkRopeHeadDim) * 4, session.Cache.Bytes);
        var stats = new GenerationStats();
        var text = string.Concat(new Generator(session, Tok).Generate(Tok.Encode("Hello world", true), new GenerationOptions { MaxTokens = 100, Sampling = SamplingOptions.Greedy }, stats));
        Assert.Equal(FinishReason.ContextFull, stats.FinishReason);
        Assert.Equal(16, session.Length);
        Assert.Throws<ContextFullException>(() => string.Concat(new Generator(new InferenceSession(model, 4, Pool), Tok)
            .Generate(Tok.Encode("a long prompt that does not fit", true), new GenerationOptions(), new GenerationStats())));
    }

    [Fact]
    public void PromptPrefixIsReusedAcrossTurns()
    {
        var session = new InferenceSession(Model, 128, Pool);
        var g = new Generator(session, Tok);
        var first = Tok.Encode("The first turn of a conversation", true);
        var s1 = new GenerationStats();
        string reply = string.Concat(g.Generate(first, new GenerationOptions { MaxTokens = 5, Sampling = SamplingOptions.Greedy }, s1));
        var second = first.Concat(Tok.Encode(reply + " and more")).ToArray();
        var s2 = new GenerationStats();
        _ = string.Concat(g.Generate(second, new GenerationOptions { MaxTokens = 5, Sampling = SamplingOptions.Greedy }, s2));
        Assert.True(s2.ReusedPromptTokens >= first.Length, $"reused {s2.ReusedPromptTokens} of {second.Length}");
    }
}
