using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>
/// Numerical edges of generation (issue 13 point 4, docs/reliability.md): a prompt that fills the configured context
/// exactly, one that is one past it, a context at the model's max_position_embeddings, a prompt of one repeated token,
/// an empty prompt, and temperatures from 0 to 1e30. Every case ends in text or a typed error, the logits stay finite,
/// and no sampled id is a padding row (the golden model has 512 rows for a 485-id tokenizer).
/// </summary>
public class ContextEdgeTests
{
    private static WorkerPool Pool => TinyChatModel.Pool;
    private static DeepSeekModel Model => TinyChatModel.Model;
    private static Tokenizer Tok => TinyChatModel.Tokenizer;
    private static int MaxPositions => Model.Config.MaxPositionEmbeddings;   // 128

    private static int[] Repeated(int token, int count) => Enumerable.Repeat(token, count).ToArray();

    private static void AssertFinite(ReadOnlySpan<float> logits, string what)
    {
        for (int i = 0; i < logits.Length; i++)
            Assert.True(float.IsFinite(logits[i]), $"{what}: logit {i} is {logits[i]}");
    }

    [Fact]
    public void APromptFillingTheWholeContextPrefillsAndOnePastItIsATypedError()
    {
        int context = MaxPositions;
        int token = Tok.Encode("the", addBos: false)[0];
        var session = new InferenceSession(Model, context, Pool);
        AssertFinite(session.Append(Repeated(token, context)), $"a prompt of {context} repeated tokens");
        Assert.Equal(context, session.Length);
        var full = Assert.Throws<ContextFullException>(() => session.Append([token]));
        Assert.Equal(context, full.Capacity);

        var fresh = new InferenceSession(Model, context, Pool);
        var past = Assert.Throws<ContextFullException>(() => fresh.Append(Repeated(token, context + 1)));
        Assert.Contains($"{context + 1} positions needed, the cache holds {context}", past.Message);
        Assert.Equal(0, fresh.Length);   // nothing half-appended: the session is still usable
        AssertFinite(fresh.Append(Repeated(token, 3)), "the same session after the refusal");
    }

    [Theory]
    [InlineData(SpeculativeMode.Off)]
    [InlineData(SpeculativeMode.Mtp)]
    public void GenerationAtTheContextEdgeEndsCleanly(SpeculativeMode speculative)
    {
        int context = MaxPositions, token = Tok.Encode("the", addBos: false)[0];
        var options = new GenerationOptions { MaxTokens = 50, Sampling = SamplingOptions.Greedy, Speculative = speculative };

        // One position left: the token sampled from the prefill takes it, the token sampled after it needs no position
        // of its own, and then the context is full: two tokens (unless the first is the end of the sequence).
        var session = new InferenceSession(Model, context, Pool);
        var stats = new GenerationStats();
        _ = string.Concat(new Generator(session, Tok).Generate(Repeated(token, context - 1), options, stats));
        if (stats.FinishReason != FinishReason.EndOfSequence)
        {
            Assert.Equal(FinishReason.ContextFull, stats.FinishReason);
            Assert.Equal(2, stats.GeneratedTokens);
            Assert.Equal(context, session.Length);
        }

        // A prompt that fills the context leaves no room to answer: a typed error before any work.
        var e = Assert.Throws<ContextFullException>(() => string.Concat(new Generator(new InferenceSession(Model, context, Pool), Tok)
            .Generate(Repeated(token, context), options, new GenerationStats())));
        Assert.Equal(context, e.Capacity);
    }

    [Fact]
    public void AnEmptyPromptIsATypedError()
    {
        var generator = new Generator(new InferenceSession(Model, 32, Pool), Tok);
        var e = Assert.Throws<InvalidInputException>(() => string.Concat(generator.Generate([], new GenerationOptions(), new GenerationStats())));
        Assert.Contains("empty", e.Message);
        Assert.Throws<InvalidInputException>(() => new InferenceSession(Model, 32, Pool).Append([]));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1e-30)]
    [InlineData(1e-6)]
    [InlineData(1.0)]
    [InlineData(1e6)]
    [InlineData(1e30)]
    public void RepeatedTokensAtAnyTemperatureSampleOnlyRealIds(double temperature)
    {
        // A long run of one token, then sampling at the edge temperatures: at 1e30 the distribution is uniform over
        // the tokenizer's ids, so every padding row would be drawn sometimes if it were allowed.
        int token = Tok.Encode("the", addBos: false)[0];
        var session = new InferenceSession(Model, MaxPositions, Pool);
        var stats = new GenerationStats();
        var options = new GenerationOptions
        {
            MaxTokens = 40,
            Sampling = new SamplingOptions { Temperature = (float)temperature, Seed = 7 },
        };
        var text = string.Concat(new Generator(session, Tok).Generate(Repeated(token, 80), options, stats));
        Assert.NotNull(text);
        var tokens = session.Tokens.ToArray();
        Assert.All(tokens, id => Assert.InRange(id, 0, Tok.VocabSize - 1));
        Assert.True(stats.GeneratedTokens > 0 || stats.FinishReason == FinishReason.EndOfSequence);
    }
}
