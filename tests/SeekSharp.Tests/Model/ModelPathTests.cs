using SeekSharp.Model;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary><see cref="ModelPath.Resolve"/> on folders laid out as a model and as a training run (no weights needed).</summary>
public class ModelPathTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-modelpath-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string Folder(params string[] parts)
    {
        var dir = Path.Combine([_tmp, .. parts]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private string Run(string latest = "step-00000002")
    {
        var run = Folder("run");
        File.WriteAllText(Path.Combine(run, "run.json"), "{}");
        foreach (var step in new[] { "step-00000000", "step-00000002" })
            File.WriteAllText(Path.Combine(Folder("run", "checkpoints", step), "config.json"), "{}");
        File.WriteAllText(Path.Combine(run, "checkpoints", "latest"), latest + "\n");
        return run;
    }

    [Fact]
    public void AModelFolderIsItself()
    {
        var model = Folder("model");
        File.WriteAllText(Path.Combine(model, "config.json"), "{}");
        Assert.Equal(model, ModelPath.Resolve(model));
        Assert.Equal(model, ModelPath.Resolve(Path.Combine(model, "config.json")));
    }

    [Fact]
    public void ARunItsCheckpointsAndLatestMeanTheNewestCheckpoint()
    {
        var run = Run();
        var newest = Path.Combine(run, "checkpoints", "step-00000002");
        Assert.Equal(newest, ModelPath.Resolve(run));
        Assert.Equal(newest, ModelPath.Resolve(Path.Combine(run, "checkpoints")));
        Assert.Equal(newest, ModelPath.Resolve(Path.Combine(run, "checkpoints", "latest")));
        var older = Path.Combine(run, "checkpoints", "step-00000000");
        Assert.Equal(older, ModelPath.Resolve(older));   // a named checkpoint is a model folder
    }

    [Fact]
    public void WhatHoldsNoModelIsACheckpointExceptionNamingThePath()
    {
        var empty = Folder("empty");
        var e = Assert.Throws<CheckpointException>(() => ModelPath.Resolve(empty));
        Assert.Contains($"{empty} holds no model", e.Message);
        var absent = Path.Combine(_tmp, "absent");
        Assert.Contains(absent, Assert.Throws<CheckpointException>(() => ModelPath.Resolve(absent)).Message);
        var file = Path.Combine(_tmp, "notes.txt");
        File.WriteAllText(file, "");
        Assert.Contains("is a file", Assert.Throws<CheckpointException>(() => ModelPath.Resolve(file)).Message);
    }

    [Fact]
    public void ALatestThatNamesAMissingCheckpointOrARunWithoutOneSaySo()
    {
        var run = Run(latest: "step-00000009");
        var e = Assert.Throws<CheckpointException>(() => ModelPath.Resolve(run));
        Assert.Contains("'step-00000009', which is not there", e.Message);
        File.Delete(Path.Combine(run, "checkpoints", "latest"));
        Assert.Contains("no complete checkpoint yet", Assert.Throws<CheckpointException>(() => ModelPath.Resolve(run)).Message);
    }
}
