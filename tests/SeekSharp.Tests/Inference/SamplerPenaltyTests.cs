using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>The penalised logits themselves, for known histories, against the formulas written out.</summary>
[Collection(nameof(SamplingCollection))]
public class SamplerPenaltyTests
{
    [Fact]
    public void RepetitionPresenceAndFrequencyGiveTheExactLogits()
    {
        float[] logits = [2f, -1f, 0.5f, 3f, -2f, 0f];
        int[] window = [0, 1, 1, 3, 3, 3, 5];
        var o = new SamplingOptions { RepetitionPenalty = 1.25f, PresencePenalty = 0.4f, FrequencyPenalty = 0.3f };
        var counts = new int[logits.Length];
        Penalties.Apply(logits, window, o, counts);
        float[] expected =
        [
            2f / 1.25f - (1 * 0.3f + 0.4f),     // seen once, positive: divided
            -1f * 1.25f - (2 * 0.3f + 0.4f),    // seen twice, negative: multiplied, frequency counted twice
            0.5f,                                // not seen
            3f / 1.25f - (3 * 0.3f + 0.4f),     // three times, but θ and presence apply once
            -2f,
            0f * 1.25f - (1 * 0.3f + 0.4f),     // zero stays zero under θ
        ];
        Assert.Equal(expected, logits);
        Assert.All(counts, c => Assert.Equal(0, c));   // the scratch is left clean for the next call
    }

    [Fact]
    public void OnlyThePenaltyWindowCountsAndPaddingIdsAreSkipped()
    {
        float[] logits = [1f, 1f, 1f, 1f, 9f];   // 4 allowed ids, id 4 is padding
        int[] history = [0, 0, 0, 1, 4, 2, 2];
        var o = new SamplingOptions { Temperature = 1, TopP = 1, RepetitionPenalty = 2f, PenaltyWindow = 4 };
        var dist = new float[5];
        new Sampler(o, allowedVocab: 4).Distribution(logits, history, dist);
        // Window [1, 4, 2, 2]: ids 1 and 2 get logit 0.5, 0 and 3 keep 1 (0 is only seen before the window).
        double e1 = Math.Exp(1), eh = Math.Exp(0.5), z = 2 * e1 + 2 * eh;
        Assert.Equal(e1 / z, dist[0], 6);
        Assert.Equal(eh / z, dist[1], 6);
        Assert.Equal(eh / z, dist[2], 6);
        Assert.Equal(e1 / z, dist[3], 6);
        Assert.Equal(0f, dist[4]);
    }

    [Fact]
    public void NegativePresencePenaltyEncouragesRepetition()
    {
        float[] logits = [0f, 0f];
        var dist = new float[2];
        new Sampler(new SamplingOptions { Temperature = 1, TopP = 1, PresencePenalty = -MathF.Log(3) }, 2).Distribution(logits, [1], dist);
        Assert.Equal(0.25, dist[0], 6);   // logit 1 raised by ln 3: odds 3 : 1
        Assert.Equal(0.75, dist[1], 6);
    }
}
