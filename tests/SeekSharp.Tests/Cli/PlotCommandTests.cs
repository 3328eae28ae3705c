using System.Buffers.Binary;
using System.Text.Json;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary>
/// Drawing allocates tens of megabytes, and some tests measure the whole process's allocations (a decode step must
/// allocate nothing): so the plot tests run on their own, after the parallel ones.
/// </summary>
[CollectionDefinition(nameof(PlotCommandTests), DisableParallelization = true)]
public class PlotCollection;

/// <summary>seeksharp plot on small metrics.jsonl files written here (no training): the PNGs, the options, the errors.</summary>
[Collection(nameof(PlotCommandTests))]
public class PlotCommandTests : IDisposable
{
    private readonly string _run = Directory.CreateTempSubdirectory("seeksharp-plot-").FullName;
    private string Metrics => Path.Combine(_run, "metrics.jsonl");
    public void Dispose() => Directory.Delete(_run, recursive: true);

    [Fact]
    public void DrawsEveryChartAndAHeatmapPerMoeLayer()
    {
        File.WriteAllText(Metrics, Lines(steps: 40, moeLayers: [1, 2, 3], experts: 8));
        var (code, stdout, stderr) = CliTestHost.Run("plot", _run);
        Assert.True(code == 0, stderr);
        string[] names = ["loss.png", "throughput.png", "lr.png", "balance.png", "expert-load-layer-1.png", "expert-load-layer-2.png", "expert-load-layer-3.png"];
        var plots = Path.Combine(_run, "plots");
        Assert.Equal(names.Select(n => Path.Combine(plots, n)), stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        foreach (var name in names) AssertPng(Path.Combine(plots, name));
        Assert.Equal(names.Order(), Directory.GetFiles(plots).Select(Path.GetFileName).Order());   // no temporary files left
    }

    [Fact]
    public void WritesWhereOutSaysAndChecksSmooth()
    {
        File.WriteAllText(Metrics, Lines(steps: 12, moeLayers: [], experts: 0));
        var elsewhere = Path.Combine(_run, "charts", "today");
        var (code, stdout, stderr) = CliTestHost.Run("plot", _run, "--out", elsewhere, "--smooth", "5");
        Assert.True(code == 0, stderr);
        Assert.Equal(["loss.png", "throughput.png", "lr.png"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Path.GetFileName));
        Assert.Contains("no MoE layers", stderr);
        foreach (var path in Directory.GetFiles(elsewhere)) AssertPng(path);

        var bad = CliTestHost.Run("plot", _run, "--smooth", "0");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--smooth must be 1", bad.Err);
    }

    [Fact]
    public void SkipsAnUnfinishedLastLineWithANote()
    {
        var lines = Lines(steps: 10, moeLayers: [1], experts: 4);
        File.WriteAllText(Metrics, lines + lines.Split('\n')[0][..37]);   // a run killed while writing step 11
        var (code, stdout, stderr) = CliTestHost.Run("plot", _run);
        Assert.True(code == 0, stderr);
        Assert.Contains($"skipped the unfinished last line of {Metrics} (line 11)", stderr);
        Assert.Equal(5, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void AMissingRunFolderOrMetricsFileIsOneLineNamingIt()
    {
        var missing = Path.Combine(_run, "no-such-run");
        AssertError(CliTestHost.Run("plot", missing), $"{missing}: no such run folder");
        AssertError(CliTestHost.Run("plot", _run), $"{Metrics} not found");
        File.WriteAllText(Metrics, "\n");
        AssertError(CliTestHost.Run("plot", _run), $"{Metrics} holds no steps yet");
    }

    [Theory]
    [InlineData("{\"step\": 3, \"loss\": oops}\n", 2)]              // bad JSON in the middle
    [InlineData("[1, 2, 3]\n", 2)]                                  // not an object
    [InlineData("{\"step\": 3, \"moe_layers\": [1], \"max_vio\": []}\n", 2)]   // per-layer arrays that disagree
    public void AMalformedLineIsAnErrorNamingFileAndLine(string badLine, int lineNumber)
    {
        var good = Lines(steps: 3, moeLayers: [1], experts: 4).Split('\n');
        File.WriteAllText(Metrics, good[0] + "\n" + badLine + good[2] + "\n");
        AssertError(CliTestHost.Run("plot", _run), $"{Metrics} line {lineNumber}:");
    }

    [Fact]
    public void ABadLastLineThatEndsInANewlineIsNotTakenForATruncation()
    {
        File.WriteAllText(Metrics, Lines(steps: 2, moeLayers: [1], experts: 4) + "{\"step\": 3,\n");
        AssertError(CliTestHost.Run("plot", _run), $"{Metrics} line 3:");
    }

    /// <summary>A plausible run: falling losses with MTP, a warm-up/cosine learning rate, validation every 5 steps, skewed expert loads.</summary>
    private static string Lines(int steps, int[] moeLayers, int experts)
    {
        var random = new Random(7);
        var text = new System.Text.StringBuilder();
        for (int s = 1; s <= steps; s++)
        {
            var loads = moeLayers.Select(_ => Normalise(Enumerable.Range(0, experts).Select(e => random.NextDouble() + (e == 0 ? 1.0 : 0.0)).ToArray())).ToArray();
            double loss = 2 + 4 * Math.Exp(-s / 10.0) + 0.1 * random.NextDouble();
            var m = new StepMetrics
            {
                Step = s, Tokens = 128L * s, Loss = 1.3 * loss, LossMain = loss, LossMtp = loss + 0.2, LossBalance = 0.01,
                LearningRate = 6e-4 * Math.Min(1, s / 3.0) * (0.55 + 0.45 * Math.Cos(Math.PI * s / steps)),
                GradNorm = 1 + random.NextDouble(), TokensPerSecond = 3000 + 500 * random.NextDouble(), Mfu = 0.2 + 0.05 * random.NextDouble(),
                ElapsedSeconds = 0.1 * s,
                MoeLayers = moeLayers, MaxVio = loads.Select(l => l.Max() * experts - 1).ToArray(), ExpertLoad = loads,
                ValLoss = s % 5 == 0 ? 1.3 * loss : null, ValLossMain = s % 5 == 0 ? loss + 0.05 : null, ValLossMtp = s % 5 == 0 ? loss + 0.25 : null,
            };
            text.Append(JsonSerializer.Serialize(m)).Append('\n');
        }
        return text.ToString();
    }

    private static double[] Normalise(double[] w) => w.Select(x => x / w.Sum()).ToArray();

    /// <summary>A PNG by its signature and header, of the size the charts are drawn at, with more in it than an empty frame.</summary>
    private static void AssertPng(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }), $"{path} is not a PNG");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(1200, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.InRange(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)), 600, 1400);
        Assert.InRange(bytes.Length, 15_000, 2_000_000);
    }

    private static void AssertError((int Code, string Out, string Err) result, string expected)
    {
        Assert.Equal(1, result.Code);
        Assert.Equal("", result.Out);
        Assert.StartsWith("error: ", result.Err);
        Assert.Contains(expected, result.Err);
        Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
