using System.Diagnostics;
using System.Globalization;
using SeekSharp.Formats;
using SeekSharp.Tests.Cli;
using SeekSharp.Training;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Training;

/// <summary>
/// kill -9 at pseudo-random moments of <c>seeksharp train</c>, half of them while a checkpoint is being written (the
/// test polls for the temporary checkpoint folder and kills as soon as it appears), each followed by <c>--resume</c>:
/// the run ends with bitwise the same weights and metrics as an uninterrupted one. CI kills 3 times (about 20 s);
/// <c>SEEKSHARP_KILL_ITERATIONS=N</c> kills N times in a longer run.
/// </summary>
public class KillResumeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-kill9-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static int Kills =>
        int.TryParse(Environment.GetEnvironmentVariable("SEEKSHARP_KILL_ITERATIONS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 3;

    [Fact]
    public void KilledAtRandomMomentsIncludingCheckpointWritesTheRunEndsBitwiseEqual()
    {
        int kills = Kills, steps = 16 + Math.Max(0, kills - 3);
        var data = Path.Combine(_tmp, "data.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Range(0, 400).Select(i => $"Line {i}: the router sends each token to {i % 8} experts.\n")));
        string[] Args(string dir) => ["train", "--preset", "tiny", "--data", data, "--out", dir, "--steps", steps.ToString(CultureInfo.InvariantCulture),
            "--batch-size", "2", "--seq-len", "32", "--save-every", "2", "--keep", "2", "--eval-every", "4", "--eval-batches", "1",
            "--seed", "3", "--threads", "2", "--lr", "3e-3", "--peak-gflops", "1"];
        var whole = Path.Combine(_tmp, "whole");
        var first = CliTestHost.Run(Args(whole));
        Assert.True(first.Code == 0, first.Err);

        var dir = Path.Combine(_tmp, "killed");
        var root = Path.Combine(dir, TrainingRun.CheckpointsDir);
        var rng = new Random(20261203);
        int killed = 0, duringWrite = 0, finishedAlone = 0;
        for (int i = 0; i < kills; i++)
        {
            bool fresh = TrainingRun.LatestCheckpoint(dir) is null;
            var before = TempFolders(root);
            using var p = TrainProcess.Start(fresh ? Args(dir) : ["train", "--resume", "--out", dir, "--threads", "2", "--peak-gflops", "1"]);
            string? writing = null;
            var clock = Stopwatch.StartNew();
            bool TimedOut() => clock.Elapsed > TimeSpan.FromSeconds(120);
            if (i % 2 == 0)
            {
                // While a checkpoint is being written: the moment the n-th new temporary folder appears (n = 1 or 2, so
                // that the run gets past step 0), then 0-20 ms more: inside the weights, the state, the hashes or the syncs.
                int nth = rng.Next(1, 3);
                for (int seen = 0; seen < nth && !p.HasExited && !TimedOut();)
                {
                    writing = TempFolders(root).Except(before).FirstOrDefault();
                    if (writing is null) { Thread.Sleep(1); continue; }
                    before.Add(writing);
                    if (++seen < nth) writing = null;
                }
                if (writing is not null) Thread.Sleep(rng.Next(0, 21));
            }
            else
            {
                // Anywhere once the run moves: a step, an evaluation, a save, a metrics line (0-1.5 s after its first step).
                long lines = MetricLines(dir);
                while (!p.HasExited && !TimedOut() && MetricLines(dir) == lines && TempFolders(root).Except(before).FirstOrDefault() is null) Thread.Sleep(2);
                p.WaitForExit(TimeSpan.FromMilliseconds(rng.Next(0, 1500)));
            }
            if (p.HasExited)
            {
                Assert.True(p.ExitCode == 0, $"train exited with {p.ExitCode} before it was killed");
                finishedAlone++;
                break;
            }
            p.Kill();   // SIGKILL
            p.WaitForExit();
            killed++;
            if (writing is not null && Directory.Exists(writing)) duringWrite++;
            string latest = TrainingRun.LatestCheckpoint(dir) is { } l ? Path.GetFileName(l) : "none";
            string moment = writing is null ? "at a random moment" : Directory.Exists(writing) ? "while writing a checkpoint (left half-written)" : "just after a checkpoint write";
            output.WriteLine($"kill {killed}: {moment}; latest is {latest}");
        }
        var last = TrainingRun.LatestCheckpoint(dir) is null ? CliTestHost.Run(Args(dir)) : CliTestHost.Run("train", "--resume", "--out", dir, "--threads", "2", "--peak-gflops", "1");
        Assert.True(last.Code == 0, last.Err);
        output.WriteLine($"{killed} kills, {duringWrite} of them with a checkpoint half-written, {finishedAlone} run(s) ended before the kill; the run ended bitwise equal");

        Assert.True(killed >= Math.Min(kills, 2), $"only {killed} of {kills} kills happened");
        Assert.EndsWith($"step-{steps:D8}", TrainingRun.LatestCheckpoint(dir));
        Assert.Equal(TrainProcess.Weights(whole), TrainProcess.Weights(dir));
        Assert.Equal(TrainProcess.MetricsWithoutTimings(whole), TrainProcess.MetricsWithoutTimings(dir));
        Assert.Empty(TempFolders(root));
        foreach (var checkpoint in Directory.GetDirectories(root, "step-*")) Assert.Null(CheckpointManifest.Problem(checkpoint, checksums: true));
    }

    private static long MetricLines(string dir)
    {
        var path = Path.Combine(dir, TrainingRun.MetricsFile);
        try { return File.Exists(path) ? File.ReadLines(path).LongCount() : 0; }
        catch (IOException) { return 0; }
    }

    private static HashSet<string> TempFolders(string root) =>
        Directory.Exists(root) ? Directory.GetDirectories(root, ".tmp-step-*").ToHashSet() : [];
}
