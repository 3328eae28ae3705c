using SeekSharp.Model;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>GPU-hours, utilisation, GPU peaks and the DeepSeek-V3 report.</summary>
[Collection(CostTests.Collection)]
public class CostModelTests
{
    private static readonly ModelConfig V3 = Presets.Get("deepseek-v3");

    [Fact]
    public void GpuHoursAndImpliedMfuAreInverse()
    {
        var cost = CostModel.For(CostFlopsTests.Small(), 8);
        double tokens = 1e9, peak = 100e12;
        // 1e9 tokens × 1 551 552 FLOPs = 1.551552e15 FLOPs; at 50% of 100 TFLOP/s that is 31.03 s = 0.0086 GPU-hours.
        double hours = cost.GpuHours(tokens, peak, 0.5);
        Assert.Equal(1.551552e15 / (0.5 * 100e12 * 3600), hours, 1e-12);
        Assert.Equal(0.5, cost.ImpliedMfu(tokens, hours, peak), 1e-12);
        Assert.Equal(0.5 * peak, cost.AchievedFlopsPerGpu(tokens, hours), 1e-9 * peak);
    }

    [Fact]
    public void RuleOfThumbUsesActivatedParametersWithoutTheEmbeddingTable()
    {
        var cost = CostModel.For(V3);
        var a = ModelAccounting.For(V3);
        Assert.Equal(a.ActivatedParametersExcludingEmbedding, cost.RuleOfThumbParameters);
        Assert.Equal(6.0 * a.ActivatedParametersExcludingEmbedding, cost.RuleOfThumbTrainingFlopsPerToken);
        // The count exceeds 6·N by the attention scores and the MTP module (about 16% at 4096).
        Assert.InRange(cost.RuleOfThumbTrainingFlopsPerToken / cost.Training.Total, 0.8, 0.9);
    }

    [Fact]
    public void MixedPeakLiesBetweenBf16AndFp8()
    {
        var cost = CostModel.For(V3);
        var h800 = GpuSpecs.Get("h800");
        double bf16 = cost.PeakFlops(h800, PeakPrecision.Bf16), fp8 = cost.PeakFlops(h800, PeakPrecision.Fp8);
        double mixed = cost.PeakFlops(h800, PeakPrecision.Mixed);
        Assert.Equal(989.5e12, bf16);
        Assert.Equal(1979e12, fp8);
        double eligible = cost.Training.Fp8Eligible, total = cost.Training.Total;
        Assert.Equal(total / (eligible / fp8 + (total - eligible) / bf16), mixed, 1e-3 * mixed);
        Assert.InRange(mixed, bf16, fp8);
    }

    [Theory]
    [InlineData("h800", 989.5, 1979)]
    [InlineData("H100", 989.5, 1979)]
    [InlineData("h100-sxm", 989.5, 1979)]
    [InlineData("h200", 989.5, 1979)]
    [InlineData("h100-pcie", 756.5, 1513)]
    [InlineData("rtx4090", 165.2, 330.3)]
    public void GpuPeaks(string name, double bf16, double fp8)
    {
        var g = GpuSpecs.Get(name);
        Assert.Equal(bf16, g.Bf16DenseTflops);
        Assert.Equal(fp8, g.Fp8DenseTflops);
        Assert.Equal(fp8 * 1e12, g.PeakFlops(PeakPrecision.Fp8));
    }

    [Fact]
    public void GpuTableIsConsistent()
    {
        Assert.Equal(GpuSpecs.All.Count, GpuSpecs.Names.Distinct().Count());
        foreach (var g in GpuSpecs.All)
        {
            Assert.True(g.Bf16DenseTflops > 0, g.Name);
            // Every FP8 tensor core here runs at twice its BF16 rate.
            if (g.Fp8DenseTflops is { } fp8) Assert.InRange(fp8 / g.Bf16DenseTflops, 1.99, 2.01);
        }
        Assert.Equal(312, GpuSpecs.Get("a100").Bf16DenseTflops);
    }

    [Fact]
    public void UnknownGpuListsTheKnownOnes()
    {
        var e = Assert.Throws<InvalidInputException>(() => GpuSpecs.Get("v100"));
        Assert.Contains("'v100'", e.Message);
        foreach (var name in GpuSpecs.Names) Assert.Contains(name, e.Message);
    }

    [Fact]
    public void A100HasNoFp8()
    {
        var e = Assert.Throws<InvalidInputException>(() => GpuSpecs.Get("a100").PeakFlops(PeakPrecision.Fp8));
        Assert.Contains("no FP8", e.Message);
        Assert.Throws<InvalidInputException>(() => CostModel.For(V3).PeakFlops(GpuSpecs.Get("a100"), PeakPrecision.Mixed));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-0.1)]
    [InlineData(1.0001)]
    [InlineData(40)]
    [InlineData(double.NaN)]
    public void MfuOutsideZeroToOneIsAnError(double mfu)
    {
        var e = Assert.Throws<InvalidInputException>(() => CostModel.For(V3).GpuHours(1e12, 1e15, mfu));
        Assert.Contains("MFU", e.Message);
    }

    [Fact]
    public void NonPositiveTokensHoursAndPeaksAreErrors()
    {
        var cost = CostModel.For(V3);
        Assert.Throws<InvalidInputException>(() => cost.TrainingFlops(-1));
        Assert.Throws<InvalidInputException>(() => cost.TrainingFlops(0));
        Assert.Throws<InvalidInputException>(() => cost.ImpliedMfu(1e12, 0, 1e15));
        Assert.Throws<InvalidInputException>(() => cost.ImpliedMfu(1e12, 1, -1e15));
        Assert.Throws<InvalidInputException>(() => cost.GpuHours(double.PositiveInfinity, 1e15, 0.5));
    }

    // ------------------------------------------------------------------ the report

    [Fact]
    public void ReportTableAddsUp()
    {
        // Data as published; these checks only confirm the numbers were copied consistently.
        Assert.Equal(2_664_000, DeepSeekV3Report.Pretraining.GpuHours);
        Assert.Equal(119_000, DeepSeekV3Report.ContextExtension.GpuHours);
        Assert.Equal(5_000, DeepSeekV3Report.PostTraining.GpuHours);
        Assert.Equal(DeepSeekV3Report.Total.GpuHours, DeepSeekV3Report.Stages.Sum(s => s.GpuHours));
        Assert.Equal(DeepSeekV3Report.Total.Dollars, DeepSeekV3Report.Stages.Sum(s => s.Dollars), 1e-6);
        foreach (var s in DeepSeekV3Report.Stages.Append(DeepSeekV3Report.Total))
            Assert.Equal(s.GpuHours * DeepSeekV3Report.PricePerGpuHour, s.Dollars, 1e-6);
        Assert.Equal(5_576_000, DeepSeekV3Report.Total.Dollars);
        // 180K GPU-hours per trillion tokens × 14.8T = the pre-training hours; on 2048 GPUs that is 3.66 ≈ 3.7 days.
        Assert.Equal(DeepSeekV3Report.GpuHoursPerTrillionTokens * 14.8, DeepSeekV3Report.Pretraining.GpuHours, 1e-6);
        Assert.Equal(DeepSeekV3Report.DaysPerTrillionTokens, DeepSeekV3Report.GpuHoursPerTrillionTokens / DeepSeekV3Report.ClusterGpus / 24, 0.05);
        Assert.Equal(125.83e9, DeepSeekV3Report.ContextExtensionPhases.Sum(p => p.Tokens), 0.01e9);
    }

    [Fact]
    public void ReportAppliesToDeepSeekV3Only()
    {
        Assert.True(DeepSeekV3Report.Describes(V3));
        Assert.True(DeepSeekV3Report.Describes(V3 with { QuantizationConfig = null, TorchDtype = "float32" }));   // same shape
        Assert.False(DeepSeekV3Report.Describes(V3 with { NumHiddenLayers = 60 }));
        Assert.False(DeepSeekV3Report.Describes(Presets.Get("deepseek-v2-lite")));
        Assert.False(DeepSeekV3Report.Describes(Presets.Get("tiny")));
    }

    [Fact]
    public void DeepSeekV3ImpliedUtilisationIsPlausibleAndEqualsTheFormula()
    {
        var u = ImpliedUtilisation.Pretraining(V3);
        double perToken = CostModel.For(V3, 4096).Training.Total;
        // MFU = 14.8e12 tokens × FLOPs per token / (2.664e6 h × 3600 s/h × 989.5e12 FLOP/s)
        double expected = 14.8e12 * perToken / (2.664e6 * 3600 * 989.5e12);
        Assert.Equal(expected, u.Bf16, 1e-12);
        Assert.Equal(expected / 2, u.Fp8, 1e-12);
        Assert.InRange(u.Bf16, 0.35, 0.45);       // 40.7%: a good large-MoE run on BF16 terms
        Assert.InRange(u.Mixed, u.Fp8, u.Bf16);
        Assert.Equal(14.8e12 * perToken, u.Flops, 1e-9 * u.Flops);
        Assert.Equal(u.Flops / (2.664e6 * 3600), u.AchievedFlopsPerGpu, 1e-6 * u.AchievedFlopsPerGpu);
    }

    [Fact]
    public void ContextExtensionSumsItsPhases()
    {
        var u = ImpliedUtilisation.ContextExtension(V3);
        double flops = DeepSeekV3Report.ContextExtensionPhases.Sum(p => CostModel.For(V3, p.SequenceLength).TrainingFlops(p.Tokens));
        Assert.Equal(flops, u.Flops, 1e-9 * flops);
        Assert.Equal(flops / (119_000 * 3600.0) / 989.5e12, u.Bf16, 1e-12);
        Assert.InRange(u.Bf16, 0.1, 0.5);
    }
}
