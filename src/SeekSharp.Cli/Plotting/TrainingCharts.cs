using ScottPlot;
using SeekSharp.Training;

namespace SeekSharp.Cli.Plotting;

/// <summary>The charts of the optimisation itself: loss, throughput, learning rate with gradient norm.</summary>
internal static class TrainingCharts
{
    /// <summary>Training loss (main and MTP) smoothed over the raw per-step values, validation losses as markers.</summary>
    public static byte[] Loss(RunMetrics run, int window)
    {
        using var plot = ChartStyle.NewPlot($"Loss · {run.Name}", Smoothed("step", window), "cross-entropy (nats per token)");
        var steps = Column(run, m => m.Step);
        ChartStyle.AddSmoothed(plot, steps, Column(run, m => m.LossMain), window, ChartStyle.Main, "training, main");
        if (HasMtp(run))
            ChartStyle.AddSmoothed(plot, steps, Column(run, m => m.LossMtp), window, ChartStyle.Mtp, "training, MTP");
        var (vx, vy) = Where(run, m => m.ValLossMain);
        ChartStyle.AddMarkers(plot, vx, vy, ChartStyle.Main.Darken(0.4), MarkerShape.FilledCircle, "validation, main");
        if (HasMtp(run))
        {
            var (mx, my) = Where(run, m => m.ValLossMtp);
            ChartStyle.AddMarkers(plot, mx, my, ChartStyle.Mtp.Darken(0.4), MarkerShape.FilledSquare, "validation, MTP");
        }
        plot.ShowLegend(Alignment.UpperRight);
        return ChartStyle.Png(plot);
    }

    /// <summary>Tokens per second, and MFU below it when the run measured its machine's peak.</summary>
    public static byte[] Throughput(RunMetrics run, int window)
    {
        var steps = Column(run, m => m.Step);
        using var tokens = ChartStyle.NewPlot($"Throughput · {run.Name}", Smoothed("step", window), "tokens / s");
        ChartStyle.AddSmoothed(tokens, steps, Column(run, m => m.TokensPerSecond), window, ChartStyle.Main, null);
        if (run.Steps.All(m => m.Mfu == 0)) return ChartStyle.Png(tokens);
        using var mfu = ChartStyle.NewPlot("", Smoothed("step", window), "MFU (% of this machine's fp32 GEMM peak)");
        ChartStyle.AddSmoothed(mfu, steps, Column(run, m => 100 * m.Mfu), window, ChartStyle.Mtp, null);
        tokens.XLabel("");
        return ChartStyle.Png(ChartStyle.Stack(tokens, mfu));
    }

    /// <summary>The learning-rate schedule as it ran, and the gradient norm (before clipping) with the clip level.</summary>
    public static byte[] LearningRate(RunMetrics run, int window)
    {
        var steps = Column(run, m => m.Step);
        using var lr = ChartStyle.NewPlot($"Learning rate and gradient norm · {run.Name}", "", "learning rate");
        ChartStyle.Line(lr, steps, Column(run, m => m.LearningRate), ChartStyle.Main);
        lr.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => v == 0 ? "0" : v.ToString("0.##e+0", System.Globalization.CultureInfo.InvariantCulture),
        };
        using var grad = ChartStyle.NewPlot("", Smoothed("step", window), "gradient norm (before clipping)");
        ChartStyle.AddSmoothed(grad, steps, Column(run, m => m.GradNorm), window, ChartStyle.Mtp, "global norm");
        if (run.GradClip is { } clip)
        {
            var line = grad.Add.HorizontalLine(clip, 1.5f, ChartStyle.Validation, LinePattern.Dashed);
            line.LegendText = $"clip at {clip:G4}";
            grad.ShowLegend(Alignment.UpperRight);
        }
        return ChartStyle.Png(ChartStyle.Stack(lr, grad));
    }

    public static double[] Column(RunMetrics run, Func<StepMetrics, double> value) => run.Steps.Select(value).ToArray();

    /// <summary>The steps that have a value (evaluation steps, for the validation losses) and those values.</summary>
    public static (double[] Steps, double[] Values) Where(RunMetrics run, Func<StepMetrics, double?> value)
    {
        var present = run.Steps.Where(m => value(m) is not null).ToList();
        return (present.Select(m => (double)m.Step).ToArray(), present.Select(m => value(m)!.Value).ToArray());
    }

    /// <summary>A model without MTP modules logs loss_mtp as 0 on every step.</summary>
    private static bool HasMtp(RunMetrics run) => run.Steps.Any(m => m.LossMtp != 0);

    /// <summary>The x label says how the bold lines were smoothed.</summary>
    public static string Smoothed(string label, int window) =>
        window > 1 ? $"{label}   (bold: centred mean over {Smoothing.Span(window)} steps; faint: each step)" : label;
}
