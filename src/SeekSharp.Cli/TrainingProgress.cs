using Spectre.Console;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Training;

namespace SeekSharp.Cli;

/// <summary>
/// Shows a training run's progress on stderr: a live Spectre.Console bar on a terminal, plain lines otherwise
/// (logs, pipes, tests). The numbers are the ones written to metrics.jsonl.
/// </summary>
internal static class TrainingProgress
{
    /// <summary>Sets the utilisation baseline: this machine's float32 GEMM peak, measured briefly.</summary>
    public static void Attach(Trainer trainer, WorkerPool pool)
    {
        trainer.PeakFlops = trainer.Options.PeakGflops > 0 ? trainer.Options.PeakGflops * 1e9 : MeasurePeakFlops(pool);
        var flops = CostModel.For(trainer.Model.Config, trainer.Options.SeqLen).Training;
        bool mtp = trainer.Options.Loss.MtpLambda > 0 && trainer.Model.Mtp.Length > 0;
        trainer.FlopsPerToken = mtp ? flops.Total : flops.Main.Total;
    }

    /// <summary>FLOP/s of the best of a few 512³ float32 GEMMs: what the kernels can do on this machine now.</summary>
    public static double MeasurePeakFlops(WorkerPool pool)
    {
        const int n = 512;
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = (i % 7) * 0.1f; b[i] = (i % 5) * 0.1f; }
        // Warm up until the JIT has compiled the optimised kernels, then take the best of a few timed runs.
        for (int rep = 0; rep < 30; rep++) Gemm.Multiply(pool, n, n, n, a, n, false, b, n, true, c, n);
        double best = 0;
        for (int rep = 0; rep < 10; rep++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            Gemm.Multiply(pool, n, n, n, a, n, false, b, n, true, c, n);
            best = Math.Max(best, 2.0 * n * n * n / sw.Elapsed.TotalSeconds);
        }
        return best;
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
                if (m.Step % every == 0 || m.Step == t.Options.Steps || m.ValLoss is not null) stderr.WriteLine(Line(m, t.Options.Steps));
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
