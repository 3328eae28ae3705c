using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>
/// The sampler's fast path (partial selection, rounds of top-p growth, compaction) against a plain reference that
/// follows the definitions in double precision and sorts the whole vocabulary, on large random vocabularies.
/// </summary>
[Collection(nameof(SamplingCollection))]
public class SamplingReferenceTests
{
    public static TheoryData<int, SamplingOptions> Configurations => new()
    {
        { 1, new SamplingOptions { Temperature = 1, TopP = 1 } },
        { 2, new SamplingOptions { Temperature = 0.6f, TopP = 0.95f } },
        { 3, new SamplingOptions { Temperature = 2.5f, TopP = 0.9f } },           // a flat nucleus of thousands: several rounds
        { 4, new SamplingOptions { Temperature = 4f, TopP = 0.999f } },
        { 5, new SamplingOptions { Temperature = 0.3f, TopK = 40, TopP = 0.5f } },
        { 6, new SamplingOptions { Temperature = 1.2f, TopK = 5000, TopP = 0.8f, MinP = 0.02f } },
        { 7, new SamplingOptions { Temperature = 1, TopK = 7, TopP = 1 } },
        { 8, new SamplingOptions { Temperature = 1.5f, TopP = 1, MinP = 0.05f } },
        { 9, new SamplingOptions { Temperature = 0.8f, TopK = 100, TopP = 1, MinP = 0.3f, RepetitionPenalty = 1.3f, FrequencyPenalty = 0.5f, PresencePenalty = 0.7f, PenaltyWindow = 32 } },
        { 10, new SamplingOptions { Temperature = 1, TopP = 0.7f, RepetitionPenalty = 1.8f, PresencePenalty = -0.5f, PenaltyWindow = int.MaxValue } },
        { 11, new SamplingOptions { Temperature = 3f, TopK = 60_000, TopP = 0.97f, MinP = 0.001f } },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void DistributionMatchesAFullSortReference(int seed, SamplingOptions options)
    {
        const int vocab = 60_000, allowed = 59_500;
        var logits = TestUtil.RandomArray(vocab, seed, 8f);
        var random = new Random(seed);
        var history = Enumerable.Range(0, 300).Select(_ => random.Next(allowed)).ToArray();
        for (int i = 0; i < 100; i++) history[i] = 17;   // a token repeated many times, partly out of a short window

        var actual = new float[vocab];
        new Sampler(options, allowed).Distribution(logits, history, actual);
        var expected = Reference(logits, history, options, allowed);

        int support = 0;
        for (int i = 0; i < vocab; i++)
        {
            Assert.True((actual[i] > 0) == (expected[i] > 0), $"token {i}: {actual[i]} vs reference {expected[i]}");
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * expected[i] + 1e-9, $"token {i}: {actual[i]} vs reference {expected[i]}");
            if (expected[i] > 0) support++;
        }
        Assert.True(support > 1, "the configuration should leave a choice");
    }

    /// <summary>Penalties → top-k → softmax(l / T) → top-p → min-p → renormalise, with full sorts, in double.</summary>
    private static double[] Reference(float[] logits, int[] history, SamplingOptions o, int allowed)
    {
        var l = logits.Take(allowed).Select(x => (double)x).ToArray();
        var window = history.Skip(Math.Max(0, history.Length - o.PenaltyWindow)).ToArray();
        foreach (var g in window.GroupBy(t => t))
        {
            double v = l[g.Key];
            v = v > 0 ? v / o.RepetitionPenalty : v * o.RepetitionPenalty;
            l[g.Key] = v - g.Count() * (double)o.FrequencyPenalty - o.PresencePenalty;
        }
        // Best first: larger logit, then lower id.
        var order = Enumerable.Range(0, allowed).OrderByDescending(i => l[i]).ThenBy(i => i).ToList();
        if (o.TopK > 0) order = order.Take(o.TopK).ToList();
        double max = l[order[0]];
        var w = order.ToDictionary(i => i, i => Math.Exp((l[i] - max) / o.Temperature));
        double total = w.Values.Sum();
        if (o.TopP < 1)
        {
            double cumulative = 0;
            int keep = order.Count;
            for (int j = 0; j < order.Count; j++)
            {
                cumulative += w[order[j]] / total;
                if (cumulative >= o.TopP) { keep = j + 1; break; }
            }
            order = order.Take(keep).ToList();
        }
        if (o.MinP > 0) order = order.Where(i => w[i] >= o.MinP).ToList();   // the top weight is exp(0) = 1
        double kept = order.Sum(i => w[i]);
        var p = new double[logits.Length];
        foreach (int i in order) p[i] = w[i] / kept;
        return p;
    }
}
