using SeekSharp.Tensors;
using SeekSharp.Training;
using Spectre.Console;

namespace SeekSharp.Cli;

/// <summary>
/// Shows a training run's progress on stderr: a live Spectre.Console bar on a terminal, plain lines otherwise
/// (logs, pipes, tests). The numbers are the ones written to metrics.jsonl.
/// </summary>
internal static class TrainingProgress
{
    /// <summary>
    /// Sets the utilisation baseline: <paramref name="peakGflops"/> when given (else the run's), or this machine's
    /// float32 GEMM peak measured on the training pool (about a second); a step that runs faster raises it.
    /// </summary>
    public static void Attach(Trainer trainer, WorkerPool pool, TextWriter stderr, double? peakGflops = null)
    {
        double given = peakGflops ?? trainer.Options.PeakGflops;
        if (peakGflops is <= 0) throw new UsageException($"--peak-gflops must be positive, got {peakGflops}.");
        trainer.Utilisation = new MfuMeter(given > 0 ? given * 1e9 : GemmPeak.Measure(pool));
        string source = given > 0 ? "given" : $"the float32 GEMM peak measured on {pool.ThreadCount} threads";
        double gflops = trainer.Utilisation.BaselinePeakFlops / 1e9;
        stderr.WriteLine($"MFU: {trainer.FlopsPerToken / 1e6:F1} MFLOP per token against {(gflops >= 1 ? gflops.ToString("F0") : gflops.ToString("G3"))} GFLOP/s ({source}; a faster step raises it)");
    }

    public static void Run(TrainingRun run, TextWriter stderr, CancellationToken ct)
    {
        var t = run.Trainer;
        bool terminal = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!terminal)
        {
            long every = Math.Max(1, t.Options.Steps / 100);
            run.Run(new CliCommon.SyncProgress<StepMetrics>(m =>
            {
                if (m.Skipped is not null) stderr.WriteLine($"step {m.Step}/{t.Options.Steps} skipped: {m.Skipped}");
                else if (m.Step % every == 0 || m.Step == t.Options.Steps || m.ValLoss is not null) stderr.WriteLine(Line(m, t.Options.Steps));
            }), ct);
            return;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape($"step {t.Step}/{t.Options.Steps}"), maxValue: t.Options.Steps);
                task.Value = t.Step;
                run.Run(new CliCommon.SyncProgress<StepMetrics>(m =>
                {
                    task.Value = m.Step;
                    if (m.Skipped is not null) console.MarkupLine(Markup.Escape($"step {m.Step}/{t.Options.Steps} skipped: {m.Skipped}"));
                    task.Description = Markup.Escape(Line(m, t.Options.Steps));
                }), ct);
            });
    }

    private static string Line(StepMetrics m, int steps)
    {
        string val = m.ValLoss is { } v ? $" val {v:F4} (main {m.ValLossMain:F4})" : "";
        string mtp = m.LossMtp > 0 ? $" mtp {m.LossMtp:F4}" : "";
        string vio = m.MaxVio.Length > 0 ? $" MaxVio {m.MaxVio.Average():F2}" : "";
        return $"step {m.Step}/{steps} loss {m.Loss:F4} (main {m.LossMain:F4}{mtp}){val} lr {m.LearningRate:E2} {m.TokensPerSecond:F0} tok/s MFU {m.Mfu:P1}{vio}";
    }
}
