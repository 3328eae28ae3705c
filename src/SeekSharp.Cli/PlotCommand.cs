using System.CommandLine;
using SeekSharp.Cli.Plotting;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp plot</c>: a training run's metrics.jsonl as PNG charts (see docs/plots.md).</summary>
internal static class PlotCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var runDir = new Argument<string>("run-dir") { Description = "A training run folder (what seeksharp train --out wrote)." };
        var output = new Option<string?>("--out") { Description = "Folder for the PNG files (default RUN_DIR/plots)." };
        var smooth = new Option<int?>("--smooth")
        {
            Description = "Centred moving average over N steps for the noisy curves; 1 = raw (default: a 25th of the run).",
        };
        var command = new Command("plot", "Draw a training run's metrics as PNG charts: loss, throughput, learning rate, expert balance and load.")
        {
            runDir, output, smooth,
        };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            string dir = r.GetValue(runDir)!;
            if (r.GetValue(smooth) is < 1 and var bad) throw new UsageException($"--smooth must be 1 (no smoothing) or more, got {bad}.");
            var run = RunMetrics.Load(dir, stderr);
            int window = r.GetValue(smooth) ?? Smoothing.DefaultWindow(run.Steps.Count);
            string outDir = r.GetValue(output) ?? Path.Combine(dir, "plots");
            Directory.CreateDirectory(outDir);
            if (MoeCharts.Layers(run).Length == 0) stderr.WriteLine("note: the run logged no MoE layers, so there are no balance or expert-load charts.");
            foreach (var chart in RunCharts.All(run, window))
            {
                string path = Path.Combine(outDir, chart.FileName);
                ChartStyle.WriteAtomically(path, chart.Draw());
                stdout.WriteLine(path);
            }
            return CliRunner.Ok;
        }));
        return command;
    }
}
