using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tests.Cli;
using SeekSharp.Tests.Golden;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>seeksharp train as a user runs it: one SGD step from a golden case is exactly "weights − golden gradients".</summary>
public class TrainCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-train-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void OneSgdStepSubtractsTheGoldenGradients(string name)
    {
        var g = new GoldenCase(name);
        var run = Path.Combine(_tmp, name);
        var (code, stdout, stderr) = CliTestHost.Run("train", "--init-from", g.Dir, "--data", Path.Combine(g.Dir, "grads.json"), "--out", run,
            "--optimizer", "sgd", "--lr", "1", "--weight-decay", "0", "--grad-clip", "0", "--bias-update-speed", "0", "--steps", "1",
            "--batch-size", "2", "--threads", "2");
        Assert.True(code == 0, stderr);
        var saved = ModelLoader.Load(stdout.Trim());
        var original = ModelLoader.Load(g.Dir);
        using var grads = SafetensorsFile.Open(Path.Combine(g.Dir, "grads.safetensors"));
        foreach (var (tensor, p) in original.NamedParameters())
        {
            var before = p.ToFloat32();
            var after = saved.GetParameter(tensor).ToFloat32();
            if (p.Role == ParameterRole.ExpertBias) { Assert.Equal(before, after); continue; }
            var grad = new float[p.Size];
            grads.ReadFloat32(tensor, grad);
            var step = before.Zip(after, (b, a) => b - a).ToArray();   // what the run subtracted
            TestUtil.AssertClose(step, grad, 1e-4, $"{name} {tensor}");
        }
    }

    [Fact]
    public void BadTrainingInvocationsAreClearErrors()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var noSource = CliTestHost.Run("train", "--data", "x", "--out", Path.Combine(_tmp, "a"));
        Assert.Equal(2, noSource.Code);
        Assert.Contains("exactly one of --config, --preset or --init-from", noSource.Err);
        var missingData = CliTestHost.Run("train", "--preset", "tiny", "--data", Path.Combine(_tmp, "none.txt"), "--out", Path.Combine(_tmp, "b"));
        Assert.Equal(1, missingData.Code);
        Assert.Contains("not found", missingData.Err);
        var badLr = CliTestHost.Run("train", "--init-from", g.Dir, "--data", Path.Combine(g.Dir, "grads.json"), "--out", Path.Combine(_tmp, "c"), "--lr", "-1");
        Assert.Equal(1, badLr.Code);
        Assert.Contains("--lr", badLr.Err);
        var nothingToResume = CliTestHost.Run("train", "--resume", "--out", Path.Combine(_tmp, "d"));
        Assert.Equal(1, nothingToResume.Code);
        Assert.Contains("no training run to resume", nothingToResume.Err);
        var textTooSmallVocab = Path.Combine(_tmp, "t.txt");
        File.WriteAllText(textTooSmallVocab, "hello world");
        var tooLittle = CliTestHost.Run("train", "--preset", "tiny", "--data", textTooSmallVocab, "--out", Path.Combine(_tmp, "e"));
        Assert.Equal(1, tooLittle.Code);
        Assert.Contains("fewer than one sequence of 256", tooLittle.Err);
        var notEmpty = CliTestHost.Run("train", "--preset", "tiny", "--data", textTooSmallVocab, "--seq-len", "4", "--out", _tmp);
        Assert.Equal(1, notEmpty.Code);
        Assert.Contains("is not empty", notEmpty.Err);
    }

    [Fact]
    public void MfuIsReportedAgainstPeakGflopsAndNeverAbove100Percent()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var run = Path.Combine(_tmp, "mfu");
        // 1 MFLOP/s: far below what any step achieves, so the steps raise the peak and read at most 100%.
        var (code, _, stderr) = CliTestHost.Run("train", "--init-from", g.Dir, "--data", Path.Combine(g.Dir, "grads.json"), "--out", run,
            "--steps", "3", "--batch-size", "1", "--eval-every", "0", "--threads", "2", "--peak-gflops", "0.001");
        Assert.True(code == 0, stderr);
        Assert.Contains("against 0.001 GFLOP/s (given;", stderr);
        var mfus = System.Text.RegularExpressions.Regex.Matches(stderr, @"MFU (\d+\.\d) ?%").Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(3, mfus.Count);
        Assert.All(mfus, m => Assert.InRange(m, 0.1, 100));
        Assert.Contains("\"PeakGflops\": 0.001", File.ReadAllText(Path.Combine(run, "run.json")));   // kept for --resume
        var negative = CliTestHost.Run("train", "--init-from", g.Dir, "--data", Path.Combine(g.Dir, "grads.json"), "--out", Path.Combine(_tmp, "neg"),
            "--peak-gflops", "-5");
        Assert.Equal(1, negative.Code);
        Assert.Contains("--peak-gflops must be positive", negative.Err);
        Assert.False(Directory.Exists(Path.Combine(_tmp, "neg")));
    }
}
