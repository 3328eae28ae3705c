using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

[Collection(nameof(SamplingCollection))]
public class SamplerTests
{
    private const int V3Vocab = 129_280, V3Tokenizer = 128_815;   // docs/architecture.md §8: ids 128815.. are padding rows

    private static float[] RandomLogits(int n, int seed, float scale = 4f) => TestUtil.RandomArray(n, seed, scale);

    private static int[] Generate(Sampler s, float[] logits, int count)
    {
        var tokens = new int[count];
        for (int i = 0; i < count; i++) tokens[i] = s.Sample(logits, tokens.AsSpan(0, i));
        return tokens;
    }

    [Fact]
    public void GreedyIsTheArgmaxWithTiesToTheLowestIdAndIgnoresTheSeed()
    {
        float[] logits = [0.5f, 3f, -1f, 3f, 3f, 7f];   // id 5 is padding
        foreach (ulong? seed in new ulong?[] { null, 1, 2, ulong.MaxValue })
        {
            var s = new Sampler(SamplingOptions.Greedy with { Seed = seed }, allowedVocab: 5);
            var state = s.RngState;
            for (int i = 0; i < 10; i++) Assert.Equal(1, s.Sample(logits, []));
            Assert.Equal(state, s.RngState);   // greedy draws no random number
        }
        var dist = new float[logits.Length];
        new Sampler(SamplingOptions.Greedy, 5).Distribution(logits, [], dist);
        Assert.Equal([0f, 1f, 0f, 0f, 0f, 0f], dist);
    }

    [Fact]
    public void GreedyOnTheFullVocabularyNeverPicksPaddingAndAppliesPenalties()
    {
        var logits = RandomLogits(V3Vocab, 7);
        logits[V3Vocab - 1] = 100;                 // padding row with the largest logit
        logits[123] = 50;                          // the best allowed token...
        logits[456] = 40;
        var s = new Sampler(SamplingOptions.Greedy, V3Tokenizer);
        Assert.Equal(123, s.Sample(logits, []));
        // ...until a repetition penalty of 2 halves it to 25 (< 40).
        var penalised = new Sampler(SamplingOptions.Greedy with { RepetitionPenalty = 2 }, V3Tokenizer);
        Assert.Equal(456, penalised.Sample(logits, [123]));
    }

    [Fact]
    public void TheSameSeedGivesTheSameTokensAndDifferentSeedsDiffer()
    {
        var logits = RandomLogits(1000, 3, 2f);
        var options = new SamplingOptions { Temperature = 1, TopK = 200, TopP = 0.9f, RepetitionPenalty = 1.1f, Seed = 42 };
        var a = Generate(new Sampler(options, 1000), logits, 300);
        var b = Generate(new Sampler(options, 1000), logits, 300);
        var c = Generate(new Sampler(options with { Seed = 43 }, 1000), logits, 300);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.True(a.Distinct().Count() > 20, "a flat distribution should give varied tokens");
    }

    [Fact]
    public void AnUnseededSamplerReportsItsSeedSoTheRunCanBeReproduced()
    {
        var logits = RandomLogits(500, 4, 2f);
        var s = new Sampler(new SamplingOptions(), 500);
        var first = Generate(s, logits, 100);
        var again = Generate(new Sampler(new SamplingOptions { Seed = s.Seed }, 500), logits, 100);
        Assert.Equal(first, again);
    }

    [Fact]
    public void SavingAndRestoringTheStateReproducesTheContinuation()
    {
        var logits = RandomLogits(2000, 5, 3f);
        var options = new SamplingOptions { Temperature = 0.9f, Seed = 7 };
        var s = new Sampler(options, 2000);
        Generate(s, logits, 50);
        var saved = s.RngState;
        var continuation = Generate(s, logits, 100);
        s.RngState = saved;
        Assert.Equal(continuation, Generate(s, logits, 100));
        // A new sampler (even with another seed) resumes from the saved state.
        var resumed = new Sampler(options with { Seed = 999 }, 2000) { RngState = saved };
        Assert.Equal(continuation, Generate(resumed, logits, 100));
        Assert.Throws<InvalidInputException>(() => s.RngState = (0, 0, 0, 0));
    }

    [Fact]
    public void EachSampleAdvancesTheGeneratorByExactlyOneStep()
    {
        var logits = RandomLogits(300, 6);
        var a = new Sampler(new SamplingOptions { Seed = 5, TopK = 1 }, 300);   // one candidate: still one step
        var b = new Sampler(new SamplingOptions { Seed = 5 }, 300);
        a.Sample(logits, []);
        b.SampleFrom([1f]);
        Assert.Equal(a.RngState, b.RngState);
    }

    [Fact]
    public void TiesAtTheTopKAndTopPBoundariesGoToTheLowestIds()
    {
        var flat = new float[10];    // ten equally likely tokens
        var dist = new float[10];
        new Sampler(new SamplingOptions { Temperature = 1, TopK = 3, TopP = 1 }, 10).Distribution(flat, [], dist);
        Assert.Equal([1f / 3, 1f / 3, 1f / 3, 0, 0, 0, 0, 0, 0, 0], dist);
        new Sampler(new SamplingOptions { Temperature = 1, TopP = 0.25f }, 10).Distribution(flat, [], dist);   // 3 × 0.1 ≥ 0.25
        Assert.Equal([1f / 3, 1f / 3, 1f / 3, 0, 0, 0, 0, 0, 0, 0], dist);
    }

    [Fact]
    public void NaNIsNeverChosenAndPositiveInfinityForcesItsTokens()
    {
        float[] logits = [float.NaN, 1f, float.PositiveInfinity, 0f, float.PositiveInfinity, float.NaN];
        var dist = new float[6];
        var s = new Sampler(new SamplingOptions { Temperature = 1, TopP = 1 }, 6);
        s.Distribution(logits, [], dist);
        Assert.Equal([0f, 0f, 0.5f, 0f, 0.5f, 0f], dist);
        float[] withNaN = [float.NaN, 1f, 2f, float.NaN];
        s = new Sampler(new SamplingOptions { Temperature = 1, TopP = 1 }, 4);
        var counts = new int[4];
        for (int i = 0; i < 1000; i++) counts[s.Sample(withNaN, [])]++;
        Assert.Equal(0, counts[0] + counts[3]);
        Assert.Equal(2, new Sampler(SamplingOptions.Greedy, 4).Sample(withNaN, []));
    }

    [Fact]
    public void ABadCallIsAnInvalidInputError()
    {
        var s = new Sampler(new SamplingOptions { RepetitionPenalty = 1.2f }, 10);
        Assert.Throws<InvalidInputException>(() => s.Sample(new float[9], []));                  // fewer logits than allowed ids
        Assert.Throws<InvalidInputException>(() => s.Sample(new float[12], [3, 12]));            // history id past the logits
        Assert.Throws<InvalidInputException>(() => s.Sample(new float[12], [-1]));
        Assert.Throws<InvalidInputException>(() => s.Distribution(new float[12], [], new float[10]));
        var masked = Enumerable.Repeat(float.NegativeInfinity, 12).ToArray();
        masked[11] = 5;                                                                         // only padding is finite
        Assert.Throws<InvalidInputException>(() => s.Sample(masked, []));
        Assert.Throws<InvalidInputException>(() => s.SampleFrom(new float[10]));                 // nothing positive
        Assert.Throws<InvalidInputException>(() => s.SampleFrom([0.5f, -0.1f, 0.6f]));
        Assert.Throws<InvalidInputException>(() => s.SampleFrom([0.5f, float.NaN]));
        Assert.Throws<InvalidInputException>(() => new Sampler(SamplingOptions.Greedy, 0));
    }

    [Fact]
    public void SamplingAFullVocabularyAllocatesNothing()
    {
        var logits = RandomLogits(V3Vocab, 11, 6f);
        var history = Enumerable.Range(0, 200).Select(i => i * 37 % V3Tokenizer).ToArray();
        var dist = new float[V3Vocab];
        SamplingOptions[] configurations =
        [
            new() { Seed = 1 },                                                          // defaults: T 0.6, top-p 0.95
            new() { Seed = 2, Temperature = 1.5f, TopK = 50, TopP = 0.9f, MinP = 0.05f, RepetitionPenalty = 1.1f, PresencePenalty = 0.2f, FrequencyPenalty = 0.1f },
            new() { Seed = 3, Temperature = 1, TopP = 1, MinP = 0.01f },
            SamplingOptions.Greedy with { RepetitionPenalty = 1.3f },
        ];
        foreach (var options in configurations)
        {
            var s = new Sampler(options, V3Tokenizer);
            for (int i = 0; i < 3; i++) s.Sample(logits, history);   // JIT
            s.Distribution(logits, history, dist);
            s.SampleFrom(dist);
            // The per-thread counter can jump by an allocation quantum when another thread's GC resets this thread's
            // allocation context, so take the best of three rounds: code that allocates does so in every round.
            long fewest = long.MaxValue;
            for (int round = 0; round < 3 && fewest > 0; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10; i++) s.Sample(logits, history);
                s.Distribution(logits, history, dist);
                s.SampleFrom(dist);
                fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            Assert.True(fewest == 0, $"{fewest} bytes allocated by 10 samples, a distribution and a draw with {options}");
        }
    }
}
