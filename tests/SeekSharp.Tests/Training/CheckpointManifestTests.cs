using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Cli;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>
/// A checkpoint is never half-picked: every checkpoint has a manifest (sizes and SHA-256s), resume passes over a damaged
/// newest one for the one before with a warning naming it and what was wrong, and ends where an undamaged run ends.
/// </summary>
public class CheckpointManifestTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-manifest-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string Data()
    {
        var path = Path.Combine(_tmp, "data.txt");
        if (!File.Exists(path))
            File.WriteAllText(path, string.Concat(Enumerable.Range(0, 300).Select(i => $"Row {i}: latent attention compresses keys {i * 5 % 11}.\n")));
        return path;
    }

    private TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 2, SeqLen = 32, SaveEvery = 2, EvalEvery = 0, KeepCheckpoints = 3, Seed = 7,
        Schedule = new LearningRateSchedule { Peak = 3e-3, Minimum = 3e-4, Warmup = 2, TotalSteps = steps },
        DataPath = Data(),
    };

    private static DeepSeekModel NewModel()
    {
        var model = DeepSeekModel.Create(Presets.Get("tiny") with { VocabSize = 300 });
        ModelInitializer.Initialize(model, 5);
        return model;
    }

    private static float[][] Weights(DeepSeekModel m) => m.Parameters.Select(p => p.ToFloat32()).ToArray();

    private sealed class Killed : Exception;

    private sealed class Progress(Action<StepMetrics> f) : IProgress<StepMetrics>
    {
        public void Report(StepMetrics value) => f(value);
    }

    // A run of 8 steps stopped after step 7 (checkpoints 2, 4, 6; latest = 6), and the weights of an uninterrupted one.
    private (string Dir, float[][] Expected) KilledRun(WorkerPool pool, string name)
    {
        var whole = TrainingRun.Start(Path.Combine(_tmp, name + "-whole"), NewModel(), null, Options(8), pool);
        whole.Run();
        var dir = Path.Combine(_tmp, name);
        var run = TrainingRun.Start(dir, NewModel(), null, Options(8), pool);
        Assert.Throws<Killed>(() => run.Run(new Progress(m => { if (m.Step == 7) throw new Killed(); })));
        Assert.EndsWith("step-00000006", TrainingRun.LatestCheckpoint(dir));
        return (dir, Weights(whole.Trainer.Model));
    }

    private static string Checkpoint(string dir, int step) => Path.Combine(dir, "checkpoints", $"step-{step:D8}");

    [Fact]
    public void EveryCheckpointHasAManifestThatVerifies()
    {
        using var pool = new WorkerPool(2);
        var (dir, _) = KilledRun(pool, "ok");
        foreach (var step in new[] { 2, 4, 6 })
        {
            var folder = Checkpoint(dir, step);
            Assert.True(CheckpointManifest.Exists(folder));
            Assert.Null(CheckpointManifest.Problem(folder, checksums: true));
            var listed = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, CheckpointManifest.FileName)))
                .RootElement.GetProperty("files").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToArray();
            Assert.Equal(["config.json", "model.safetensors", TrainingRun.StateFile], listed);
        }
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(dir, "checkpoints"), ".tmp*"));
    }

    [Fact]
    public void EachKindOfDamageIsNamed()
    {
        using var pool = new WorkerPool(2);
        var (dir, _) = KilledRun(pool, "kinds");
        var folder = Checkpoint(dir, 6);
        var weights = Path.Combine(folder, "model.safetensors");
        var original = File.ReadAllBytes(weights);

        var flipped = (byte[])original.Clone();
        flipped[^100] ^= 0x01;   // one bit of a weight: same size, another hash
        File.WriteAllBytes(weights, flipped);
        Assert.Null(CheckpointManifest.Problem(folder, checksums: false));
        Assert.Contains("model.safetensors's SHA-256", CheckpointManifest.Problem(folder, checksums: true));
        // Fine-tuning from it reads every byte anyway, so --init-from checks the hashes and refuses it.
        var init = CliTestHost.Run("train", "--init-from", folder, "--data", Data(), "--out", Path.Combine(_tmp, "init"), "--steps", "1", "--threads", "2");
        Assert.Equal(1, init.Code);
        Assert.Contains($"error: {folder} is damaged: model.safetensors's SHA-256 is ", init.Err);

        File.WriteAllBytes(weights, original[..^10]);
        Assert.Contains($"model.safetensors has {original.Length - 10:N0} bytes, the manifest says {original.Length:N0}", CheckpointManifest.Problem(folder, checksums: false));
        // Loading it as a model (--model, --init-from) checks sizes: a truncated file is a CheckpointException naming it.
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(folder));
        Assert.Contains("model.safetensors has", e.Message);

        File.WriteAllBytes(weights, original);
        Assert.Null(CheckpointManifest.Problem(folder, checksums: true));
        File.WriteAllText(Path.Combine(folder, "README.md"), "copied in later");   // files it does not list are allowed
        Assert.Null(CheckpointManifest.Problem(folder, checksums: true));
        File.Delete(Path.Combine(folder, TrainingRun.StateFile));
        Assert.Equal($"{TrainingRun.StateFile} is missing", CheckpointManifest.Problem(folder, checksums: false));
        File.WriteAllText(Path.Combine(folder, CheckpointManifest.FileName), "{\"format\": \"seeksharp checkpoint manifest\", \"files\": [");
        Assert.StartsWith("manifest.json is not valid JSON", CheckpointManifest.Problem(folder, checksums: false));
    }

    [Fact]
    public void ACorruptNewestCheckpointFallsBackToThePreviousOneAndEndsTheSame()
    {
        using var pool = new WorkerPool(2);
        var (dir, expected) = KilledRun(pool, "corrupt");
        var state = Path.Combine(Checkpoint(dir, 6), TrainingRun.StateFile);
        var bytes = File.ReadAllBytes(state);
        bytes[bytes.Length / 2] ^= 0x40;   // a moment's bit: the state would load, and the run would silently differ
        File.WriteAllBytes(state, bytes);

        var (code, _, err) = CliTestHost.Run("train", "--resume", "--out", dir, "--threads", "2");
        Assert.True(code == 0, err);
        Assert.Contains($"warning: checkpoint {Checkpoint(dir, 6)} is not usable: {TrainingRun.StateFile}'s SHA-256", err);
        Assert.Contains($"resuming {dir} at step 4 of 8", err);
        Assert.Equal(expected, Weights(ModelLoader.Load(TrainingRun.LatestCheckpoint(dir)!)));
        Assert.Null(CheckpointManifest.Problem(Checkpoint(dir, 6), checksums: true));   // written again, whole
    }

    [Fact]
    public void ALostManifestOrAMissingFolderIsPassedOverButAnOldRunWithoutManifestsStillResumes()
    {
        using var pool = new WorkerPool(2);
        var (dir, expected) = KilledRun(pool, "lost");
        Directory.Delete(Checkpoint(dir, 6), recursive: true);                        // `latest` names a folder that is gone
        File.Delete(Path.Combine(Checkpoint(dir, 4), CheckpointManifest.FileName));   // step 2 has one: 4 lost its own
        var resumed = TrainingRun.Resume(dir, pool);
        Assert.Equal(2, resumed.Trainer.Step);
        Assert.Equal(2, resumed.SkippedCheckpoints.Count);
        Assert.Contains("step-00000006 is not usable: latest names it, but it is not there", resumed.SkippedCheckpoints[0]);
        Assert.Contains("step-00000004 is not usable: manifest.json is missing", resumed.SkippedCheckpoints[1]);
        resumed.Run();
        Assert.Equal(expected, Weights(resumed.Trainer.Model));

        // A run an older SeekSharp wrote has no manifests at all: it resumes from `latest`, unverified.
        var (old, expectedOld) = KilledRun(pool, "old");
        foreach (var step in new[] { 2, 4, 6 }) File.Delete(Path.Combine(Checkpoint(old, step), CheckpointManifest.FileName));
        var legacy = TrainingRun.Resume(old, pool);
        Assert.Equal(6, legacy.Trainer.Step);
        Assert.Empty(legacy.SkippedCheckpoints);
        legacy.Run();
        Assert.Equal(expectedOld, Weights(legacy.Trainer.Model));
    }

    [Fact]
    public void WhenEveryCheckpointIsDamagedResumeSaysWhichAndWhy()
    {
        using var pool = new WorkerPool(2);
        var (dir, _) = KilledRun(pool, "all");
        foreach (var step in new[] { 2, 4, 6 })
            File.AppendAllText(Path.Combine(Checkpoint(dir, step), "config.json"), " ");
        var (code, _, err) = CliTestHost.Run("train", "--resume", "--out", dir, "--threads", "2");
        Assert.Equal(1, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("has no complete checkpoint to resume from", err);
        foreach (var step in new[] { 2, 4, 6 }) Assert.Contains($"step-{step:D8} is not usable: config.json has", err);
    }

    [Fact]
    public void ARunKilledBeforeItsFirstCheckpointStartsAgainInItsFolder()
    {
        var dir = Path.Combine(_tmp, "early");
        Directory.CreateDirectory(Path.Combine(dir, "checkpoints", ".tmp-step-00000000-dead"));
        File.WriteAllText(Path.Combine(dir, TrainingRun.RunFile), "{}");
        File.WriteAllText(Path.Combine(dir, TrainingRun.MetricsFile), "");
        var resume = CliTestHost.Run("train", "--resume", "--out", dir);
        Assert.Equal(1, resume.Code);
        Assert.Contains("stopped before step 0 was saved; start it again without --resume", resume.Err);
        var again = CliTestHost.Run("train", "--preset", "tiny", "--data", Data(), "--out", dir, "--steps", "1", "--batch-size", "1",
            "--seq-len", "16", "--eval-every", "0", "--threads", "2", "--peak-gflops", "1");
        Assert.True(again.Code == 0, again.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "checkpoints", ".tmp-step-00000000-dead")));
    }
}
