using System.Text.Json;
using SeekSharp.Formats;
using SeekSharp.Tests.Cli;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>
/// NaN or infinity in a step's loss or gradients, triggered for real: a learning rate of 1e30 makes step 1's AdamW update
/// about 1e30 per weight, and step 2's backward overflows. --on-nonfinite stop (the default) ends the run naming the step
/// and the first non-finite gradient, keeping the newest checkpoint; skip leaves the weights as they were, halves the
/// learning rate per skipped step, and stops after --max-skipped-steps; the count is part of the checkpoint.
/// </summary>
public class NonFiniteTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-nonfinite-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string Data()
    {
        var data = Path.Combine(_tmp, "data.txt");
        if (!File.Exists(data)) File.WriteAllText(data, string.Concat(Enumerable.Range(0, 300).Select(i => $"Row {i}: a multi-token prediction depth of {i % 3}.\n")));
        return data;
    }

    private string[] Args(string dir, params string[] more) =>
        ["train", "--preset", "tiny", "--data", Data(), "--out", dir, "--steps", "8", "--batch-size", "2", "--seq-len", "32", "--save-every", "1",
            "--keep", "10", "--eval-every", "0", "--seed", "3", "--threads", "2", "--lr", "1e30", "--schedule", "constant", "--warmup", "0",
            "--peak-gflops", "1", .. more];

    private static string Checkpoint(string dir, int step) => Path.Combine(dir, "checkpoints", $"step-{step:D8}");

    private static float[][] WeightsAt(string folder)
    {
        using var model = SeekSharp.Model.ModelLoader.Load(folder);
        return model.Parameters.Select(p => p.ToFloat32()).ToArray();
    }

    [Fact]
    public void StopEndsTheRunNamingTheStepAndKeepsTheNewestCheckpoint()
    {
        var dir = Path.Combine(_tmp, "stop");
        var (code, _, err) = CliTestHost.Run(Args(dir));
        Assert.Equal(1, code);
        var error = Assert.Single(err.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.StartsWith("error: Step 2: the gradient norm is NaN (the first non-finite gradient: NaN in ", error);
        Assert.Contains($"stopped (--on-nonfinite stop). Lower --lr, or check the data. The newest checkpoint, {Checkpoint(dir, 1)}, is kept.", error);
        Assert.EndsWith("step-00000001", TrainingRun.LatestCheckpoint(dir));
        Assert.Null(CheckpointManifest.Problem(Checkpoint(dir, 1), checksums: true));
        Assert.Single(File.ReadAllLines(Path.Combine(dir, TrainingRun.MetricsFile)));
    }

    [Fact]
    public void SkipLeavesTheWeightsHalvesTheLearningRateAndStopsAfterTheLimit()
    {
        var dir = Path.Combine(_tmp, "skip");
        var (code, _, err) = CliTestHost.Run(Args(dir, "--on-nonfinite", "skip", "--max-skipped-steps", "3"));
        Assert.Equal(1, code);
        Assert.Contains("step 2/8 skipped: the gradient norm is NaN (the first non-finite gradient: NaN in ", err);
        Assert.Contains("the learning rate is now × 0.125 (3 of at most 3 skips)", err);
        Assert.Contains("error: Step 5: the gradient norm is NaN", err);
        Assert.Contains("stopped, 3 steps were skipped already (--max-skipped-steps 3)", err);

        var lines = File.ReadAllLines(Path.Combine(dir, TrainingRun.MetricsFile)).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(4, lines.Length);
        Assert.False(lines[0].TryGetProperty("skipped", out _));
        Assert.Equal([1e30, 1e30, 5e29, 2.5e29], lines.Select(l => l.GetProperty("lr").GetDouble()));   // the rate each step ran with
        Assert.All(lines[1..], l => Assert.StartsWith("the gradient norm is NaN", l.GetProperty("skipped").GetString()));
        Assert.All(lines[1..], l => Assert.Equal("NaN", l.GetProperty("grad_norm").GetString()));
        // Skipped steps change nothing: the weights and expert biases of steps 2-4 are step 1's, bit for bit.
        var afterStep1 = WeightsAt(Checkpoint(dir, 1));
        foreach (var step in new[] { 2, 3, 4 }) Assert.Equal(afterStep1, WeightsAt(Checkpoint(dir, step)));

        // The skip count is in the checkpoint: resumed at step 4, the run has no skips left and stops at once.
        var resumed = CliTestHost.Run("train", "--resume", "--out", dir, "--threads", "2", "--peak-gflops", "1");
        Assert.Equal(1, resumed.Code);
        Assert.Contains("resuming", resumed.Err);
        Assert.Contains("error: Step 5: the gradient norm is NaN", resumed.Err);
        Assert.Contains("3 steps were skipped already", resumed.Err);
    }

    [Fact]
    public void AVersion1TrainingStateWithoutTheSkipCountStillLoads()
    {
        using var pool = new SeekSharp.Tensors.WorkerPool(2);
        var model = SeekSharp.Model.DeepSeekModel.Create(SeekSharp.Model.Presets.Get("tiny") with { VocabSize = 300 });
        SeekSharp.Model.ModelInitializer.Initialize(model, 5);
        var options = new TrainingOptions { Steps = 2, BatchSize = 2, SeqLen = 32, EvalEvery = 0, DataPath = Data() };
        var run = TrainingRun.Start(Path.Combine(_tmp, "v1"), model, null, options, pool);
        run.Run();
        var v2 = new MemoryStream();
        run.Trainer.SaveState(v2);
        byte[] bytes = v2.ToArray();
        // Version 1: the same fields without the skip count (an int after step, tokens and seconds).
        int versionAt = 1 + "SeekSharp training state".Length, skippedAt = versionAt + 4 + 8 + 8 + 8;
        Assert.Equal(2, BitConverter.ToInt32(bytes, versionAt));
        byte[] v1 = [.. bytes[..versionAt], .. BitConverter.GetBytes(1), .. bytes[(versionAt + 4)..skippedAt], .. bytes[(skippedAt + 4)..]];
        run.Trainer.LoadState(new MemoryStream(v1), "v1");
        Assert.Equal(2, run.Trainer.Step);
        Assert.Equal(0, run.Trainer.SkippedSteps);
        var again = new MemoryStream();
        run.Trainer.SaveState(again);
        Assert.Equal(bytes, again.ToArray());
        Assert.Contains("version 3 training state", Assert.Throws<SeekSharp.CheckpointException>(() =>
            run.Trainer.LoadState(new MemoryStream([.. bytes[..versionAt], .. BitConverter.GetBytes(3), .. bytes[(versionAt + 4)..]]), "v3")).Message);
    }

    [Fact]
    public void TheFlagsAreCheckedAndKeptInTheRunFile()
    {
        var bad = CliTestHost.Run(Args(Path.Combine(_tmp, "bad"), "--on-nonfinite", "ignore"));
        Assert.NotEqual(0, bad.Code);   // System.CommandLine's own error for a value it does not accept
        Assert.Contains("ignore", bad.Err);
        var negative = CliTestHost.Run(Args(Path.Combine(_tmp, "neg"), "--max-skipped-steps", "-1"));
        Assert.Equal(1, negative.Code);
        Assert.Contains("--max-skipped-steps must be 0 or more", negative.Err);
        var options = JsonSerializer.Deserialize<TrainingOptions>(JsonSerializer.Serialize(new TrainingOptions { OnNonFinite = NonFinitePolicy.Skip, MaxSkippedSteps = 2 }, TrainingOptions.Json), TrainingOptions.Json)!;
        Assert.Equal(NonFinitePolicy.Skip, options.OnNonFinite);
        Assert.Equal(2, options.MaxSkippedSteps);
        Assert.Contains("\"OnNonFinite\": \"Skip\"", JsonSerializer.Serialize(options, TrainingOptions.Json));
    }
}
