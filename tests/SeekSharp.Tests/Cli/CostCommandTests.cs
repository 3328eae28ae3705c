using System.Text.Json;
using SeekSharp.Model;
using SeekSharp.Tests.Training;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary><c>seeksharp cost</c> end to end: text, JSON and every error path.</summary>
[Collection(CostTests.Collection)]
public class CostCommandTests
{
    private static readonly string[] V3Report = ["cost", "--preset", "deepseek-v3", "--tokens", "14.8T", "--gpu", "h800", "--gpu-hours", "2.664M"];

    [Fact]
    public void TextPrintsTheBreakdownTheImpliedMfuAndTheReportTable()
    {
        var (code, stdout, stderr) = CliTestHost.Run(V3Report);
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        foreach (var label in new[] { "attention projections", "attention scores", "dense FFN", "MoE experts (8 routed + 1 shared)", "router", "head", "MTP (1 module", "6·N rule of thumb" })
            Assert.Contains(label, stdout);
        double mfu = ImpliedUtilisation.Pretraining(Presets.Get("deepseek-v3")).Bf16;
        Assert.Contains($"implied MFU {mfu * 100:F1}%", stdout);
        // The published table, as data.
        Assert.Contains("pre-training            2,664K  $5.328M", stdout);
        Assert.Contains("context extension         119K  $0.238M", stdout);
        Assert.Contains("post-training               5K  $0.010M", stdout);
        Assert.Contains("total                   2,788K  $5.576M", stdout);
        Assert.Contains("180K GPU-hours per trillion tokens, 3.7 days on 2048 GPUs", stdout);
        Assert.Contains("as published", stdout);
        Assert.Contains("computed here", stdout);
        Assert.Contains("$5.328M at $2/GPU-hour", stdout);
    }

    [Fact]
    public void JsonHasTheBreakdownTheImpliedMfuAndTheReport()
    {
        var (code, stdout, stderr) = CliTestHost.Run([.. V3Report, "--json"]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        var t = root.GetProperty("training_flops_per_token");
        double sum = new[] { "attention_projections", "attention_scores", "dense_ffn", "moe_experts", "router", "head", "mtp" }
            .Sum(k => t.GetProperty(k).GetDouble());
        Assert.Equal(t.GetProperty("total").GetDouble(), sum, 1e-6 * sum);
        var v3 = Presets.Get("deepseek-v3");
        Assert.Equal(CostModel.For(v3).Training.Total, t.GetProperty("total").GetDouble());
        Assert.Equal(1.48e13, root.GetProperty("tokens").GetDouble());
        Assert.Equal(989.5, root.GetProperty("gpu").GetProperty("peak_tflops").GetDouble());

        double mfu = root.GetProperty("implied").GetProperty("mfu").GetDouble();
        Assert.Equal(ImpliedUtilisation.Pretraining(v3).Bf16, mfu, 1e-12);
        Assert.InRange(mfu, 0.35, 0.45);
        Assert.Equal(5.328e6, root.GetProperty("implied").GetProperty("dollars").GetDouble(), 1e-3);

        var report = root.GetProperty("deepseek_v3_report");
        var data = report.GetProperty("data");
        Assert.Equal(2_788_000, data.GetProperty("total").GetProperty("gpu_hours").GetDouble());
        Assert.Equal(5_576_000, data.GetProperty("total").GetProperty("dollars").GetDouble());
        Assert.Equal(3, data.GetProperty("stages").GetArrayLength());
        Assert.Equal(180_000, data.GetProperty("gpu_hours_per_trillion_tokens").GetDouble());
        var computed = report.GetProperty("computed").GetProperty("pretraining");
        Assert.Equal(mfu, computed.GetProperty("mfu_bf16").GetDouble(), 1e-12);
        Assert.Equal(mfu / 2, computed.GetProperty("mfu_fp8").GetDouble(), 1e-12);
    }

    [Fact]
    public void MfuProjectsGpuHoursDollarsAndDays()
    {
        var (code, stdout, stderr) = CliTestHost.Run("cost", "--preset", "tiny", "--tokens", "2B", "--peak-tflops", "100",
            "--mfu", "0.5", "--price-per-gpu-hour", "3", "--gpus", "8", "--seq-len", "8", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var p = doc.RootElement.GetProperty("projection");
        double flops = 2e9 * CostModel.For(Presets.Get("tiny"), 8).Training.Total;
        double hours = flops / (0.5 * 100e12 * 3600);
        Assert.Equal(hours, p.GetProperty("gpu_hours").GetDouble(), 1e-9 * hours);
        Assert.Equal(3 * hours, p.GetProperty("dollars").GetDouble(), 1e-9 * hours);
        Assert.Equal(hours / 8 / 24, p.GetProperty("days").GetDouble(), 1e-9);
        Assert.False(doc.RootElement.TryGetProperty("deepseek_v3_report", out _));
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("gpu").GetProperty("name").ValueKind);

        var text = CliTestHost.Run("cost", "--preset", "tiny", "--tokens", "2B", "--gpu", "h100", "--mfu", "0.4", "--gpus", "8");
        Assert.Equal(0, text.Code);
        Assert.Contains("at 40.0% MFU:", text.Out);
        Assert.Contains("days on 8 GPUs", text.Out);
        Assert.DoesNotContain("Technical Report", text.Out);
    }

    [Fact]
    public void FlopsOnlyWithoutAGpu()
    {
        var (code, stdout, _) = CliTestHost.Run("cost", "--preset", "deepseek-v2-lite", "--tokens", "1T", "--attention-span", "full", "--seq-len", "2048");
        Assert.Equal(0, code);
        Assert.Contains("sequence length 2048 (full attention", stdout);
        Assert.Contains("training FLOPs", stdout);
        Assert.DoesNotContain("GPU-hours at 100% MFU", stdout);
    }

    [Fact]
    public void PrecisionPicksThePeak()
    {
        double Peak(params string[] extra)
        {
            var (code, stdout, stderr) = CliTestHost.Run(["cost", "--preset", "deepseek-v3", "--tokens", "1T", "--gpu", "h800", "--json", .. extra]);
            Assert.True(code == 0, stderr);
            using var doc = JsonDocument.Parse(stdout);
            return doc.RootElement.GetProperty("gpu").GetProperty("peak_tflops").GetDouble();
        }
        Assert.Equal(989.5, Peak());
        Assert.Equal(1979, Peak("--precision", "fp8"));
        Assert.InRange(Peak("--precision", "mixed"), 989.5, 1979);
    }

    [Theory]
    [InlineData("must be positive", "--tokens=-1T")]
    [InlineData("must be positive", "--tokens", "0")]
    [InlineData("'lots' is not a number", "--tokens", "lots")]
    [InlineData("Unknown GPU 'v100'. Known GPUs: h800, h100", "--tokens", "1T", "--gpu", "v100")]
    [InlineData("MFU must be in (0, 1]", "--tokens", "1T", "--gpu", "h800", "--mfu", "1.5")]
    [InlineData("MFU must be in (0, 1]", "--tokens", "1T", "--gpu", "h800", "--mfu", "0")]
    [InlineData("MFU must be in (0, 1]", "--tokens", "1T", "--gpu", "h800", "--mfu=-0.2")]
    [InlineData("--gpu-hours must be positive", "--tokens", "1T", "--gpu", "h800", "--gpu-hours", "0")]
    [InlineData("no FP8 tensor cores", "--tokens", "1T", "--gpu", "a100", "--precision", "fp8")]
    [InlineData("--peak-tflops must be positive", "--tokens", "1T", "--peak-tflops", "0")]
    [InlineData("--price-per-gpu-hour must be 0 or more", "--tokens", "1T", "--price-per-gpu-hour=-2")]
    [InlineData("--gpus must be positive", "--tokens", "1T", "--gpus", "0")]
    [InlineData("sequence length must be positive", "--tokens", "1T", "--seq-len", "0")]
    public void InvalidInputIsAOneLineError(string message, params string[] args)
    {
        var (code, stdout, stderr) = CliTestHost.Run(["cost", "--preset", "deepseek-v3", .. args]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains(message, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("not both", "--gpu", "h800", "--mfu", "0.4", "--gpu-hours", "1M")]
    [InlineData("--mfu needs a GPU", "--mfu", "0.4")]
    [InlineData("--gpu-hours needs a GPU", "--gpu-hours", "1M")]
    [InlineData("--gpu NAME or --peak-tflops X, not both", "--gpu", "h800", "--peak-tflops", "900")]
    [InlineData("--peak-tflops is already a peak", "--peak-tflops", "900", "--precision", "fp8")]
    [InlineData("--precision picks a peak of --gpu: give --gpu NAME", "--precision", "fp8")]
    public void BadFlagCombinationsAreUsageErrors(string message, params string[] args)
    {
        var (code, _, stderr) = CliTestHost.Run(["cost", "--preset", "deepseek-v3", "--tokens", "1T", .. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void NeedsExactlyOneModelSource()
    {
        Assert.Equal(2, CliTestHost.Run("cost", "--tokens", "1T").Code);
        Assert.Equal(2, CliTestHost.Run("cost", "--preset", "tiny", "--model", "x", "--tokens", "1T").Code);
        var missing = CliTestHost.Run("cost", "--preset", "deepseek-v3");
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("--tokens", missing.Err);
    }
}

/// <summary><c>cost --ownership</c>: the run priced on owned hardware beside the rental price.</summary>
public sealed class CostOwnershipTests
{
    [Fact]
    public void TheAnalystsScenarioPricesDeepSeekV3sPretrainingBothWays()
    {
        var (code, output, err) = CliTestHost.Run("cost", "--preset", "deepseek-v3", "--tokens", "14.8T", "--gpu", "h800", "--gpu-hours", "2.664M", "--ownership", "--json");
        Assert.True(code == 0, err);
        var o = System.Text.Json.Nodes.JsonNode.Parse(output)!["ownership"]!;
        // $1.6B / 4 years + $944M / 4 years = $636M a year, over 50,000 GPUs × 8,766 h × 80% = 350.64M useful GPU-hours.
        Assert.Equal(636e6, o["cost_per_year"]!.GetValue<double>(), 1);
        Assert.Equal(50_000 * 365.25 * 24 * 0.8, o["useful_gpu_hours_per_year"]!.GetValue<double>(), 1);
        Assert.Equal(636e6 / (50_000 * 365.25 * 24 * 0.8), o["effective_price_per_gpu_hour"]!.GetValue<double>(), 9);
        Assert.Equal(2.664e6 * 2, o["rental_dollars"]!.GetValue<double>(), 1);
        Assert.Equal(2.664e6 * 636e6 / (50_000 * 365.25 * 24 * 0.8), o["ownership_dollars"]!.GetValue<double>(), 1);
        Assert.Equal(2.664e6 / (50_000 * 365.25 * 24 * 0.8), o["share_of_cluster_year"]!.GetValue<double>(), 9);
        Assert.Contains("SemiAnalysis", o["source"]!.GetValue<string>());
    }

    [Fact]
    public void FlagsOverrideTheScenarioAndTheTextSaysSo()
    {
        var (code, output, err) = CliTestHost.Run("cost", "--preset", "deepseek-v3", "--tokens", "14.8T", "--gpu", "h800", "--gpu-hours", "2.664M",
            "--ownership", "--cluster-gpus", "2048", "--capital-cost", "400M", "--amortisation-years", "5", "--operating-cost", "20M", "--operating-years", "1", "--utilisation", "1");
        Assert.True(code == 0, err);
        // ($80M + $20M) a year over 2,048 × 8,766 GPU-hours: $5.57/GPU-hour.
        Assert.Contains($"effective cost ${100e6 / (2048 * 365.25 * 24):0.00}/GPU-hour", output);
        Assert.Contains("analysts-2025 with the flags given", output);
    }

    [Theory]
    [InlineData("--ownership prices a run", "--ownership")]
    [InlineData("--utilisation must be in (0, 1]", "--ownership", "--gpu-hours", "1M", "--utilisation", "0")]
    [InlineData("add --ownership", "--gpu-hours", "1M", "--cluster-gpus", "10")]
    public void BadOwnershipInputIsOneLine(string expected, params string[] flags)
    {
        var (code, _, err) = CliTestHost.Run(["cost", "--preset", "deepseek-v3", "--tokens", "1T", "--gpu", "h800", .. flags]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
