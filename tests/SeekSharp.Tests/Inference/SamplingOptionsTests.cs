using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

[Collection(nameof(SamplingCollection))]
public class SamplingOptionsTests
{
    [Fact]
    public void DefaultsAreDeepSeeksGenerationConfigWithEverythingElseOff()
    {
        var o = new SamplingOptions();
        Assert.Equal(0.6f, o.Temperature);
        Assert.Equal(0.95f, o.TopP);
        Assert.Equal(0, o.TopK);
        Assert.Equal(0f, o.MinP);
        Assert.Equal(1f, o.RepetitionPenalty);
        Assert.Equal(0f, o.PresencePenalty);
        Assert.Equal(0f, o.FrequencyPenalty);
        Assert.Equal(64, o.PenaltyWindow);
        Assert.Null(o.Seed);
        Assert.False(o.HasPenalties);
        Assert.True(SamplingOptions.Greedy.IsGreedy);
        Assert.False(o.IsGreedy);
    }

    public static TheoryData<string, Func<SamplingOptions>> BadOptions => new()
    {
        { "Temperature", () => new SamplingOptions { Temperature = -0.1f } },
        { "Temperature", () => new SamplingOptions { Temperature = float.NaN } },
        { "Temperature", () => new SamplingOptions { Temperature = float.PositiveInfinity } },
        { "TopK", () => new SamplingOptions { TopK = -1 } },
        { "TopP", () => new SamplingOptions { TopP = 0 } },
        { "TopP", () => new SamplingOptions { TopP = -0.5f } },
        { "TopP", () => new SamplingOptions { TopP = 1.0001f } },
        { "TopP", () => new SamplingOptions { TopP = float.NaN } },
        { "MinP", () => new SamplingOptions { MinP = -0.01f } },
        { "MinP", () => new SamplingOptions { MinP = 1.5f } },
        { "MinP", () => new SamplingOptions { MinP = float.NaN } },
        { "RepetitionPenalty", () => new SamplingOptions { RepetitionPenalty = 0 } },
        { "RepetitionPenalty", () => new SamplingOptions { RepetitionPenalty = -1.2f } },
        { "RepetitionPenalty", () => new SamplingOptions { RepetitionPenalty = float.PositiveInfinity } },
        { "PresencePenalty", () => new SamplingOptions { PresencePenalty = float.NaN } },
        { "FrequencyPenalty", () => new SamplingOptions { FrequencyPenalty = float.NegativeInfinity } },
        { "PenaltyWindow", () => new SamplingOptions { PenaltyWindow = -1 } },
        { "TopP", () => SamplingOptions.Greedy with { TopP = 2 } },   // `with` goes through the same checks
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void ABadValueIsRejectedByName(string name, Func<SamplingOptions> build)
    {
        var e = Assert.Throws<InvalidInputException>(() => build());
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void BoundaryValuesAreAccepted()
    {
        var o = new SamplingOptions { Temperature = 0, TopP = 1, MinP = 1, TopK = 0, PenaltyWindow = 0, PresencePenalty = -2, FrequencyPenalty = 2 };
        Assert.True(o.IsGreedy);
        Assert.False(o.HasPenalties);   // window 0 turns every penalty off
        Assert.True((o with { PenaltyWindow = 1 }).HasPenalties);
        Assert.Equal(new SamplingOptions { Seed = 3 }, new SamplingOptions { Seed = 3 });
    }
}
