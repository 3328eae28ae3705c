using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>
/// Draws many tokens from a small known logit vector and compares the frequencies with the distribution computed
/// by hand from the definitions: which tokens each filter keeps is worked out in the case (not by a second
/// implementation), and the expected probabilities are softmax(l / T) renormalised over them. Seeds are fixed, so the
/// tests are deterministic; the tolerances are 5 standard errors per token, so a correct sampler passes for almost
/// every seed and a wrong distribution (one token off by ~1%) does not.
/// </summary>
[Collection(nameof(SamplingCollection))]
public class SamplerStatisticsTests
{
    private const int Draws = 200_000;
    private const int Allowed = 8;

    // Ids 8 and 9 are padding rows with the largest logits of all: they must never come out.
    private static readonly float[] Logits = [2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f, 9f, 9f];

    public record Case(string Name, SamplingOptions Options, int[] History, float[] PenalisedLogits, int[] Kept)
    {
        public override string ToString() => Name;
    }

    private static SamplingOptions Plain(float t) => new() { Temperature = t, TopP = 1, Seed = 12345 };

    public static TheoryData<Case> Cases()
    {
        int[] all = [0, 1, 2, 3, 4, 5, 6, 7];
        var p = SoftmaxOver(Logits, all, 1.0);
        // Penalised logits for history [3, 3, 3, 4, 6] with θ = 1.3, presence 0.5, frequency 0.25:
        // 3 (seen 3×, l > 0): 0.5 / 1.3 − (3·0.25 + 0.5); 4 (once, l = 0): 0·1.3 − 0.75; 6 (once, l < 0): −1·1.3 − 0.75.
        float[] penalised = (float[])Logits.Clone();
        penalised[3] = 0.5f / 1.3f - (3 * 0.25f + 0.5f);
        penalised[4] = 0f - 0.75f;
        penalised[6] = -1f * 1.3f - 0.75f;
        // The combination's window is the last 5 of [0, 0, 3, 7, 7, 1, 1, 1]: 7 twice and 1 three times (0 and 3 are
        // outside it). θ = 1.5, presence 0.3, frequency 0.2: l1 = 1.5 / 1.5 − 0.9 = 0.1, l7 = −3·1.5 − 0.7 = −5.2.
        // Top-6 drops ids 6 (−1) and 7 (−5.2). At T = 0.8 the probabilities by rank are 0: .603, 2: .173, 3: .093,
        // 1: .056, 4: .050, 5: .026, so top-p 0.8 keeps {0, 2, 3} (3 crosses 0.8); min-p 0.2 then needs
        // w ≥ 0.2 and w3 = exp(−1.5 / 0.8) = 0.153 goes: {0, 2}.
        float[] combined = (float[])Logits.Clone();
        combined[1] = 1.5f / 1.5f - (3 * 0.2f + 0.3f);
        combined[7] = -3f * 1.5f - (2 * 0.2f + 0.3f);
        return new TheoryData<Case>
        {
            new("temperature 1", Plain(1), [], Logits, all),
            new("temperature 0.5", Plain(0.5f), [], Logits, all),
            new("temperature 2.5", Plain(2.5f), [], Logits, all),
            new("top-k 3", Plain(1) with { TopK = 3 }, [], Logits, [0, 1, 2]),
            new("top-k 1", Plain(1) with { TopK = 1 }, [], Logits, [0]),
            // P halfway into token 2's share: 0 and 1 fall short, 2 crosses P and is kept.
            new("top-p boundary", Plain(1) with { TopP = (float)(p[0] + p[1] + 0.5 * p[2]) }, [], Logits, [0, 1, 2]),
            new("top-p just past 4 tokens", Plain(1) with { TopP = (float)(p[0] + p[1] + p[2] + p[3] + 0.01 * p[4]) }, [], Logits, [0, 1, 2, 3, 4]),
            new("top-p below the top token", Plain(1) with { TopP = (float)(0.5 * p[0]) }, [], Logits, [0]),
            // exp(l − 2) ≥ 0.3 ⇔ l ≥ 2 + ln 0.3 = 0.796: ids 0, 1, 2.
            new("min-p 0.3", Plain(1) with { MinP = 0.3f }, [], Logits, [0, 1, 2]),
            // At T = 2, exp((l − 2) / 2) ≥ 0.3 ⇔ l ≥ 2 + 2 ln 0.3 = −0.408: ids 0..4 (−0.5 is out).
            new("min-p 0.3 at T 2", Plain(2) with { MinP = 0.3f }, [], Logits, [0, 1, 2, 3, 4]),
            new("penalties", Plain(1) with { RepetitionPenalty = 1.3f, PresencePenalty = 0.5f, FrequencyPenalty = 0.25f }, [3, 3, 3, 4, 6], penalised, all),
            new("combination", new SamplingOptions
            {
                Temperature = 0.8f, TopK = 6, TopP = 0.8f, MinP = 0.2f, RepetitionPenalty = 1.5f, PresencePenalty = 0.3f,
                FrequencyPenalty = 0.2f, PenaltyWindow = 5, Seed = 99,
            }, [0, 0, 3, 7, 7, 1, 1, 1], combined, [0, 2]),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DistributionMatchesTheDefinitionAndPaddingGetsNothing(Case c)
    {
        var expected = Expected(c);
        var sampler = new Sampler(c.Options, Allowed);
        var dist = new float[Logits.Length];
        sampler.Distribution(Logits, c.History, dist);
        Assert.Equal(1.0, dist.Sum(x => (double)x), 6);
        for (int i = 0; i < dist.Length; i++)
            Assert.True(Math.Abs(dist[i] - expected[i]) < 1e-6, $"{c.Name}: p[{i}] = {dist[i]}, expected {expected[i]}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SampleFrequenciesMatchTheDistribution(Case c)
    {
        var expected = Expected(c);
        var sampler = new Sampler(c.Options, Allowed);
        var counts = new long[Logits.Length];
        for (int i = 0; i < Draws; i++) counts[sampler.Sample(Logits, c.History)]++;
        SamplingAssert.FrequenciesMatch(counts, expected, c.Name);
    }

    [Fact]
    public void SampleFromDrawsTheGivenDistributionAndSkipsPadding()
    {
        double[] p = [0.5, 0.25, 0, 0.125, 0.125, 0.3];   // the last entry is padding for a 5-token sampler
        var sampler = new Sampler(Plain(1), allowedVocab: 5);
        float[] given = p.Select(x => (float)x).ToArray();
        var counts = new long[p.Length];
        for (int i = 0; i < Draws; i++) counts[sampler.SampleFrom(given)]++;
        SamplingAssert.FrequenciesMatch(counts, [0.5, 0.25, 0, 0.125, 0.125, 0], "SampleFrom");
    }

    private static double[] Expected(Case c) => SoftmaxOver(c.PenalisedLogits, c.Kept, c.Options.Temperature);

    /// <summary>softmax(l / T) over the ids in <paramref name="kept"/>, zero elsewhere (padding included).</summary>
    private static double[] SoftmaxOver(float[] logits, int[] kept, double t)
    {
        var p = new double[logits.Length];
        double max = kept.Max(i => (double)logits[i]);
        foreach (int i in kept) p[i] = Math.Exp((logits[i] - max) / t);
        double sum = p.Sum();
        for (int i = 0; i < p.Length; i++) p[i] /= sum;
        return p;
    }
}

/// <summary>
/// The sampling tests run on their own after the parallel ones: they allocate a lot (references, fuzzing), which
/// would disturb tests that count the process's allocations, and their own allocation test counts per thread.
/// </summary>
[CollectionDefinition(nameof(SamplingCollection), DisableParallelization = true)]
public class SamplingCollection;

internal static class SamplingAssert
{
    /// <summary>
    /// Each token's frequency is within 5 standard errors √(p(1 − p)/N) of p, a token with p = 0 never appears, and
    /// Pearson's χ² stays under df + 6·√(2·df) (far in the tail for a right distribution).
    /// </summary>
    public static void FrequenciesMatch(long[] counts, double[] expected, string what)
    {
        long n = counts.Sum();
        double chi2 = 0;
        int df = -1;
        for (int i = 0; i < counts.Length; i++)
        {
            double p = expected[i];
            if (p == 0)
            {
                Assert.True(counts[i] == 0, $"{what}: token {i} has probability 0 but came out {counts[i]} times");
                continue;
            }
            double f = (double)counts[i] / n, se = Math.Sqrt(p * (1 - p) / n);
            Assert.True(Math.Abs(f - p) <= 5 * se + 1e-12, $"{what}: token {i} frequency {f:F5}, expected {p:F5} (±{5 * se:F5})");
            chi2 += (counts[i] - n * p) * (counts[i] - n * p) / (n * p);
            df++;
        }
        if (df > 0) Assert.True(chi2 < df + 6 * Math.Sqrt(2.0 * df), $"{what}: χ² = {chi2:F1} with {df} degrees of freedom");
    }
}
