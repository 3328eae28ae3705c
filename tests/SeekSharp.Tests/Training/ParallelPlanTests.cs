using SeekSharp.Model;
using SeekSharp.Tests.Cli;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>The parallelism planner (docs/cost.md): stage split, per-GPU memory, all-to-all bytes and bounds.</summary>
public sealed class ParallelPlanTests
{
    private static ParallelPlan V3() => new(Presets.Get("deepseek-v3"),
        new ParallelLayout { Gpus = 2048, Pipeline = 16, Expert = 64, GlobalBatch = 15_360, SequenceLength = 4096 }, GpuSpecs.Get("h800"));

    [Fact]
    public void StagesCoverEveryLayerOnceAndSplitTheExpertsByEp()
    {
        var p = V3();
        var c = p.Config;
        Assert.Equal(2, p.Layout.Data);
        Assert.Equal(c.NumHiddenLayers, p.Stages.Sum(s => s.Layers));
        Assert.True(p.Stages.Zip(p.Stages.Skip(1)).All(t => t.First.FirstLayer + t.First.Layers == t.Second.FirstLayer));
        // Every parameter is somewhere: replicated ones once per stage, routed experts once per EP share.
        var a = ModelAccounting.For(c);
        double placed = p.Stages.Sum(s => s.NonExpertParameters + s.ExpertParameters * p.Layout.Expert);
        Assert.Equal(a.MainParameters + a.MtpUniqueParameters, placed, 0);
        Assert.True(p.Stages[0].Embedding && p.Stages[^1].Head);
    }

    [Fact]
    public void TrafficAndBoundsFollowFromTheLayout()
    {
        var p = V3();
        var c = p.Config;
        Assert.Equal(15_360.0 * 4096 / (64 * 2), p.TokensPerGpu);
        Assert.Equal(4, p.NodesPerToken);   // topk_group 4 of the EP group's 8 nodes
        Assert.Equal(p.TokensPerGpu * p.MoeLayersPerStage * 4 * c.HiddenSize * 7.0, p.InfiniBandBytesPerStep);
        Assert.Equal(p.TokensPerGpu * p.MoeLayersPerStage * 8 * c.HiddenSize * 7.0, p.NvLinkBytesPerStep);
        Assert.Equal(p.TrainingFlopsPerStep / 2048 / p.PeakFlops, p.ComputeBoundSeconds, 9);
        // GPU-hours per trillion tokens at the bound, against the report's 180K: the report runs at a fraction of peak.
        Assert.InRange(DeepSeekV3Report.GpuHoursPerTrillionTokens / p.GpuHoursPerTrillionTokensAtPeak, 2, 8);
    }

    [Fact]
    public void ThePlanCommandPrintsTheV3LayoutBesideTheReport()
    {
        var (code, output, err) = CliTestHost.Run("plan", "--preset", "deepseek-v3", "--gpus", "2048", "--pp", "16", "--ep", "64", "--dp", "2");
        Assert.True(code == 0, err);
        Assert.Contains("PP 16 × EP 64 × DP 2", output);
        Assert.Contains("DeepSeek-V3 report: 180K GPU-hours per trillion tokens", output);
        Assert.Contains("memory per GPU:", output);
    }

    [Theory]
    [InlineData("is not a multiple of", "--gpus", "2048", "--pp", "16", "--ep", "60")]
    [InlineData("does not fit", "--gpus", "2048", "--pp", "16", "--ep", "64", "--dp", "4")]
    [InlineData("does not divide the 256 routed experts", "--gpus", "1536", "--pp", "16", "--ep", "96")]
    public void LayoutsThatDoNotFitAreOneLineErrors(string expected, params string[] flags)
    {
        var (code, _, err) = CliTestHost.Run(["plan", "--preset", "deepseek-v3", .. flags]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, err);
    }
}
