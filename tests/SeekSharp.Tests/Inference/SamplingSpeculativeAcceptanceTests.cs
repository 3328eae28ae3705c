using SeekSharp.Inference;
using SeekSharp.Tensors;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>
/// Speculative sampling is exact: drafting x ~ q and then accepting or correcting must give tokens distributed as
/// p, with acceptance rate Σ min(p, q). Checked by simulation with fixed seeds and 5-standard-error tolerances.
/// </summary>
[Collection(nameof(SamplingCollection))]
public class SamplingSpeculativeAcceptanceTests
{
    private const int Draws = 200_000;

    public static TheoryData<string, float[], float[]> Pairs => new()
    {
        { "q = p", [0.1f, 0.2f, 0.3f, 0.4f, 0f, 0f], [0.1f, 0.2f, 0.3f, 0.4f, 0f, 0f] },
        { "disjoint supports", [0.5f, 0.3f, 0.2f, 0f, 0f, 0f], [0f, 0f, 0f, 0.6f, 0.3f, 0.1f] },
        { "partial overlap", [0.05f, 0.15f, 0.4f, 0.3f, 0.1f, 0f], [0.3f, 0.3f, 0.1f, 0.1f, 0.1f, 0.1f] },
        { "draft sharper than target", [0.2f, 0.2f, 0.2f, 0.2f, 0.1f, 0.1f], [0.7f, 0.1f, 0.1f, 0.05f, 0.05f, 0f] },
        { "greedy draft (one-hot q)", [0.1f, 0.6f, 0.2f, 0.1f, 0f, 0f], [0f, 0f, 1f, 0f, 0f, 0f] },
        { "greedy target (one-hot p)", [0f, 0f, 0f, 1f, 0f, 0f], [0.25f, 0.25f, 0.25f, 0.25f, 0f, 0f] },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void DraftThenAcceptOrCorrectIsDistributedAsTheTarget(string name, float[] p, float[] q)
    {
        var sampler = new Sampler(new SamplingOptions { Seed = 2024 }, p.Length);
        var counts = new long[p.Length];
        long accepted = 0;
        for (int i = 0; i < Draws; i++)
        {
            int drafted = sampler.SampleFrom(q);
            if (sampler.AcceptDraft(p, q, drafted, out int token))
            {
                Assert.Equal(drafted, token);
                accepted++;
            }
            counts[token]++;
        }
        SamplingAssert.FrequenciesMatch(counts, p.Select(x => (double)x).ToArray(), name);

        double rate = Math.Min(1, p.Zip(q, (a, b) => (double)Math.Min(a, b)).Sum());   // float inputs may sum to 1 + ε
        double se = Math.Sqrt(rate * (1 - rate) / Draws);
        Assert.True(Math.Abs((double)accepted / Draws - rate) <= 5 * se + 1e-12, $"{name}: acceptance {(double)accepted / Draws:F4}, expected {rate:F4}");
        if (name == "q = p") Assert.Equal(Draws, accepted);
        if (name == "disjoint supports") Assert.Equal(0, accepted);
    }

    [Fact]
    public void GreedyVerificationAcceptsIffTheArgmaxesAgree()
    {
        float[] target = [0f, 1f, 0f];
        var rng = new Rng(1);
        Assert.True(SpeculativeAcceptance.Accept(target, [0f, 1f, 0f], 1, ref rng, out int kept));
        Assert.Equal(1, kept);
        Assert.False(SpeculativeAcceptance.Accept(target, [0f, 0f, 1f], 2, ref rng, out int corrected));
        Assert.Equal(1, corrected);
    }

    [Fact]
    public void AcceptanceUsesTheCallersGeneratorReproducibly()
    {
        float[] p = [0.2f, 0.5f, 0.3f], q = [0.6f, 0.2f, 0.2f];
        var a = new Rng(77);
        var b = new Rng(77);
        for (int i = 0; i < 1000; i++)
        {
            bool x = SpeculativeAcceptance.Accept(p, q, 0, ref a, out int ta);
            bool y = SpeculativeAcceptance.Accept(p, q, 0, ref b, out int tb);
            Assert.Equal((x, ta), (y, tb));
        }
        Assert.Equal(a.State, b.State);
    }

    [Fact]
    public void ImpossibleDraftsAreRejectedAsInvalidInput()
    {
        var rng = new Rng(1);
        Assert.Throws<InvalidInputException>(() => SpeculativeAcceptance.Accept([0.5f, 0.5f], [1f, 0f], 1, ref rng, out _));   // q(x) = 0
        Assert.Throws<InvalidInputException>(() => SpeculativeAcceptance.Accept([0.5f, 0.5f], [1f], 0, ref rng, out _));
        Assert.Throws<InvalidInputException>(() => SpeculativeAcceptance.Accept([0.5f, 0.5f], [0.5f, 0.5f], 2, ref rng, out _));
    }
}
