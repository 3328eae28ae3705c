using System.Diagnostics;
using SeekSharp.Tests.Cli;
using Xunit;

namespace SeekSharp.Tests.Distributed;

/// <summary>
/// A rank killed in the middle of data-parallel training (<c>kill -9</c>) ends the whole job within seconds with a
/// message naming the rank, instead of leaving the other rank waiting in a collective, and the surviving rank prints a
/// line of its own with the resume point; the run then resumes from its last checkpoint on another number of ranks.
/// </summary>
public sealed class RankFailureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-kill-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task AKilledRankEndsTheJobAndTheRunResumesOnOneProcess()
    {
        string data = Path.Combine(_dir, "data.txt"), run = Path.Combine(_dir, "run");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("experts route tokens to a shared latent; ", 400)));
        using var job = OpenMpiJob.Start(2, "train", "--preset", "tiny", "--data", data, "--out", run, "--steps", "100000", "--batch-size", "2",
            "--seq-len", "32", "--eval-every", "0", "--save-every", "2", "--threads", "1", "--parallel", "dp");
        var stderr = job.StandardError.ReadToEndAsync();
        var stdout = job.StandardOutput.ReadToEndAsync();
        int survivorStep;
        try
        {
            // Wait for a checkpoint past step 0, then kill rank 1 the hard way.
            var wait = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(run, "checkpoints", "step-00000004", "training_state.bin")))
            {
                if (job.HasExited) Assert.Fail($"the job ended early: {await stderr}");
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(90), "no checkpoint after 90 s");
                await Task.Delay(100);
            }
            var ranks = OpenMpiJob.RankProcesses(run);
            Assert.True(ranks.ContainsKey(1), $"rank 1 not found among {string.Join(", ", ranks)}");
            Process.GetProcessById(ranks[1]).Kill();
            var killed = Stopwatch.StartNew();
            Assert.True(job.WaitForExit(TimeSpan.FromSeconds(30)), "the job did not end within 30 s of a rank's death");
            job.WaitForExit();
            Assert.NotEqual(0, job.ExitCode);
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(30));
            string err = await stderr;
            Assert.Contains("rank 1", err);   // mpirun names the rank that died
            // The surviving rank says so itself, with where to resume (its newest checkpoint when mpirun ended it).
            var said = System.Text.RegularExpressions.Regex.Match(err,
                $@"rank 0 of 2: stopping: mpirun is ending the job \(SIGTERM: another rank failed, or the job was stopped\); resume with --resume --out {System.Text.RegularExpressions.Regex.Escape(run)} \(newest checkpoint: step (\d+)\)");
            Assert.True(said.Success, $"no line from the surviving rank in:\n{err}");
            survivorStep = int.Parse(said.Groups[1].Value);
            await stdout;
        }
        finally
        {
            if (!job.HasExited) job.Kill(entireProcessTree: true);
        }

        // The newest complete checkpoint resumes on one process, a different number of ranks.
        string latest = File.ReadAllText(Path.Combine(run, "checkpoints", "latest")).Trim();
        int step = int.Parse(latest["step-".Length..]);
        Assert.True(step >= survivorStep, $"the surviving rank named step {survivorStep}, the run's newest checkpoint is {step}");
        var resumed = CliTestHost.Run("train", "--resume", "--out", run, "--steps", (step + 2).ToString(), "--threads", "1");
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains($"resuming {run} at step {step}", resumed.Err);
        Assert.True(File.Exists(Path.Combine(run, "checkpoints", $"step-{step + 2:D8}", "model.safetensors")));
    }
}
