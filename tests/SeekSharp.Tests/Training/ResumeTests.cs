using System.Diagnostics;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>Determinism and exact resume: an interrupted run continued with --resume ends bit for bit where an uninterrupted one does.</summary>
public class ResumeTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-resume-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string Data()
    {
        var path = Path.Combine(_tmp, "data.txt");
        if (!File.Exists(path))
            File.WriteAllText(path, string.Concat(Enumerable.Range(0, 400).Select(i => $"Line {i}: the quick brown fox jumps over the lazy dog {i * 7 % 13}.\n")));
        return path;
    }

    private TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 2, SeqLen = 32, SaveEvery = 2, EvalEvery = 3, EvalBatches = 2, KeepCheckpoints = 2, Seed = 11,
        Schedule = new LearningRateSchedule { Peak = 3e-3, Minimum = 3e-4, Warmup = 2, TotalSteps = steps },
        DataPath = Data(),
    };

    private static DeepSeekModel NewModel()
    {
        var config = Presets.Get("tiny") with { VocabSize = 300 };
        var model = DeepSeekModel.Create(config);
        ModelInitializer.Initialize(model, 5);
        return model;
    }

    private static float[][] Weights(DeepSeekModel m) => m.Parameters.Select(p => p.ToFloat32()).ToArray();

    private sealed class Killed : Exception;

    [Fact]
    public void SameSeedGivesBitwiseIdenticalRuns()
    {
        using var pool = new WorkerPool(2);
        var a = TrainingRun.Start(Path.Combine(_tmp, "a"), NewModel(), null, Options(5), pool);
        var la = new List<double>();
        a.Run(new Progress(m => la.Add(m.Loss)));
        var b = TrainingRun.Start(Path.Combine(_tmp, "b"), NewModel(), null, Options(5), pool);
        var lb = new List<double>();
        b.Run(new Progress(m => lb.Add(m.Loss)));
        Assert.Equal(la, lb);
        Assert.Equal(Weights(a.Trainer.Model), Weights(b.Trainer.Model));
    }

    [Fact]
    public void AKilledRunResumesToTheSameWeights()
    {
        using var pool = new WorkerPool(2);
        var whole = TrainingRun.Start(Path.Combine(_tmp, "whole"), NewModel(), null, Options(7), pool);
        whole.Run();
        var expected = Weights(whole.Trainer.Model);

        var dir = Path.Combine(_tmp, "killed");
        var run = TrainingRun.Start(dir, NewModel(), null, Options(7), pool);
        Assert.Throws<Killed>(() => run.Run(new Progress(m => { if (m.Step == 5) throw new Killed(); })));   // dies after step 5, last checkpoint at 4
        // A kill in the middle of writing a checkpoint leaves a temporary folder: resume ignores it.
        Directory.CreateDirectory(Path.Combine(dir, "checkpoints", ".tmp-step-00000006-dead"));
        var resumed = TrainingRun.Resume(dir, pool);
        Assert.Equal(4, resumed.Trainer.Step);
        resumed.Run();
        Assert.Equal(expected, Weights(resumed.Trainer.Model));
        Assert.False(Directory.Exists(Path.Combine(dir, "checkpoints", ".tmp-step-00000006-dead")));
        var metricSteps = File.ReadLines(Path.Combine(dir, TrainingRun.MetricsFile)).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64()).ToArray();
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), metricSteps);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(dir, "checkpoints")).Length);   // --keep 2
    }

    [Fact]
    public void AProcessKilledMidRunResumesToTheSameWeights()
    {
        // The real thing: seeksharp train in a child process, SIGKILLed once it has saved a checkpoint, then --resume.
        var cli = Path.Combine(AppContext.BaseDirectory, "SeekSharp.Cli.dll");
        string[] Args(string dir) => ["train", "--preset", "tiny", "--data", Data(), "--out", dir, "--steps", "16", "--batch-size", "2", "--seq-len", "32",
            "--save-every", "2", "--eval-every", "0", "--seed", "3", "--threads", "2", "--lr", "3e-3"];
        var whole = Path.Combine(_tmp, "p-whole");
        Assert.Equal(0, Cli.CliTestHost.Run(Args(whole)).Code);

        var dir = Path.Combine(_tmp, "p-killed");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(cli);
        foreach (var a in Args(dir)) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            var sw = Stopwatch.StartNew();
            while (!p.HasExited && sw.Elapsed < TimeSpan.FromSeconds(120) && (TrainingRun.LatestCheckpoint(dir) ?? "step-00000000").EndsWith("step-00000000"))
                Thread.Sleep(2);
            Assert.False(p.HasExited, "the run ended before it could be killed");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.DoesNotContain("step-00000016", TrainingRun.LatestCheckpoint(dir));
        var (code, _, err) = Cli.CliTestHost.Run(["train", "--resume", "--out", dir, "--threads", "2"]);
        Assert.True(code == 0, err);
        var a1 = ModelLoader.Load(TrainingRun.LatestCheckpoint(whole)!);
        var b1 = ModelLoader.Load(TrainingRun.LatestCheckpoint(dir)!);
        Assert.EndsWith("step-00000016", TrainingRun.LatestCheckpoint(dir)!);
        Assert.Equal(Weights(a1), Weights(b1));
    }

    private sealed class Progress(Action<StepMetrics> f) : IProgress<StepMetrics>
    {
        public void Report(StepMetrics value) => f(value);
    }
}
