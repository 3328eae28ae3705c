using CsCheck;
using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>
/// Numerical edges of sampling (issue 13, point 4) as a property: any logits (huge, tiny, ±∞, NaN, all equal), any
/// valid temperature from 0 to 10^30, with top-k, top-p, min-p and penalties, over a vocabulary with padding rows.
/// The sampler returns an allowed id whose logit is not NaN (a typed error only when no allowed id is finite or +∞),
/// and its distribution is finite and sums to 1.
/// </summary>
public sealed class SamplerEdgeProperties
{
    private static readonly float[] Extremes =
        [0f, -0f, 1f, -1f, 1e-38f, -1e-38f, 1e30f, -1e30f, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 88.7f, -103f];

    private static readonly Gen<float> Logit = Gen.OneOf(Gen.Float[-50, 50], Gen.Int[0, Extremes.Length - 1].Select(i => Extremes[i]));

    private static readonly Gen<SamplingOptions> Options =
        Gen.Select(Gen.Int[0, 7].Select(i => new[] { 0f, 1e-30f, 1e-6f, 0.01f, 1f, 2f, 1e6f, 1e30f }[i]), Gen.Int[0, 8], Gen.Float[0.01f, 1f],
            Gen.Float[0f, 1f], Gen.Float[0.5f, 2f], Gen.Float[-2f, 2f])
        .Select((t, k, p, minP, rep, presence) => new SamplingOptions
        {
            Temperature = t, TopK = k, TopP = p, MinP = minP, RepetitionPenalty = rep, PresencePenalty = presence, FrequencyPenalty = presence / 2, Seed = 7,
        });

    [Fact]
    public void EverySampleIsAnAllowedIdWithARealLogit()
    {
        var gen = Gen.Select(Gen.Int[1, 40], Gen.Int[0, 4], Options, Gen.Int[0, 9].Array[0, 6]).SelectMany((allowed, padding, options, history) =>
            Logit.Array[allowed + padding].Select(logits => (allowed, logits, options, history)));
        gen.Sample(x =>
        {
            var (allowed, logits, options, history) = x;
            var sampler = new Sampler(options, allowed);
            var usable = Enumerable.Range(0, allowed).Any(i => !float.IsNaN(logits[i]) && logits[i] != float.NegativeInfinity);
            int id;
            try { id = sampler.Sample(logits, history.Where(h => h < allowed).ToArray()); }
            catch (InvalidInputException) when (!usable) { return; }   // nothing to choose from: a typed error is the answer
            Assert.InRange(id, 0, allowed - 1);
            Assert.False(float.IsNaN(logits[id]), $"sampled id {id} whose logit is NaN");
            var p = new float[logits.Length];
            sampler.Distribution(logits, history.Where(h => h < allowed).ToArray(), p);
            Assert.All(p, v => Assert.True(float.IsFinite(v) && v >= 0, $"probability {v}"));
            Assert.InRange(p.Sum(), 0.999f, 1.001f);
            Assert.All(p.Skip(allowed), v => Assert.Equal(0f, v));   // padding rows never get mass
        }, iter: 5000, threads: 1);   // 100,000 pass too (about a second)
    }

    // The two inputs the property found (both fixed in Penalties: a penalised logit saturates at float's range).
    [Fact]
    public void APenaltyOnAHugeLogitDoesNotOverflowIntoAnInvalidDraw()
    {
        float[] logits = [-3f, 1e30f, float.MaxValue, -1f, -1e30f];
        var options = new SamplingOptions { Temperature = 1e6f, RepetitionPenalty = 0.86f, PresencePenalty = -1.7f, Seed = 7 };
        Assert.InRange(new Sampler(options, 5).Sample(logits, [2]), 0, 4);
    }

    [Fact]
    public void APenaltyOnTheOnlyTokensHugeNegativeLogitLeavesItSampleable()
    {
        var options = new SamplingOptions { Temperature = 2, TopK = 4, MinP = 0.09f, RepetitionPenalty = 1.34f, Seed = 7 };
        Assert.Equal(0, new Sampler(options, 1).Sample([float.MinValue], [0]));
    }
}
