using ScottPlot;

namespace SeekSharp.Cli.Plotting;

/// <summary>How evenly the routed experts are used: MaxVio per MoE layer, and each layer's expert load over time.</summary>
internal static class MoeCharts
{
    /// <summary>ColorBrewer's RdBu, reversed: blue for an idle expert, white for its even share, red for an overloaded one.</summary>
    private static readonly IColormap BlueWhiteRed = new ScottPlot.Colormaps.CustomInterpolated(
        [Color.FromHex("#2166ac"), Color.FromHex("#92c5de"), Color.FromHex("#f7f7f7"), Color.FromHex("#f4a582"), Color.FromHex("#b2182b")]);

    /// <summary>A heatmap has at most this many columns; longer runs average neighbouring steps into one column.</summary>
    public const int MaxColumns = 600;

    /// <summary>The MoE layer indices that appear in the run, main layers first, then MTP.</summary>
    public static int[] Layers(RunMetrics run) => run.Steps.SelectMany(m => m.MoeLayers).Distinct().Order().ToArray();

    public static string LayerName(RunMetrics run, int layer) =>
        run.MainLayers is { } main && layer >= main ? $"MTP layer {layer}" : $"layer {layer}";

    /// <summary>MaxVio = max load / mean load − 1 per MoE layer and step: 0 is perfect balance. MTP layers are dashed.</summary>
    public static byte[] Balance(RunMetrics run, int window)
    {
        using var plot = ChartStyle.NewPlot($"Expert balance (MaxVio) · {run.Name}",
            window > 1 ? $"step   (centred mean over {Smoothing.Span(window)} steps)" : "step",
            "MaxVio = max load / mean load − 1");
        var layers = Layers(run);
        for (int i = 0; i < layers.Length; i++)
        {
            var (steps, values) = Series(run, layers[i], (m, slot) => m.MaxVio[slot]);
            var line = ChartStyle.Line(plot, steps, Smoothing.MovingAverage(values, window), LayerColor(i, layers.Length));
            line.LegendText = LayerName(run, layers[i]);
            if (line.LegendText.StartsWith("MTP", StringComparison.Ordinal)) line.LinePattern = LinePattern.Dashed;
        }
        plot.ShowLegend(Edge.Right);   // outside the data, one row per layer: DeepSeek-V3 has 58 MoE layers and an MTP one
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsY(0, plot.Axes.GetLimits().Top);
        return ChartStyle.Png(plot, height: Math.Max(ChartStyle.Height, 140 + 20 * layers.Length));
    }

    /// <summary>
    /// One layer's expert load over time: x = step, y = routed expert, colour = that expert's share of the step's routed
    /// tokens. The scale runs from 0 to twice the even share 1/N, so balance sits at its middle (white): red is an
    /// overloaded expert, blue an idle one, and anything past 2/N is drawn at the top colour.
    /// </summary>
    public static byte[] ExpertLoad(RunMetrics run, int layer)
    {
        var (steps, loads) = Series(run, layer, (m, slot) => m.ExpertLoad[slot]);
        int experts = loads.Max(l => l.Length);
        if (loads.Length == 1) loads = [loads[0], loads[0]];   // ScottPlot draws nothing for a one-column heatmap
        var grid = Columns(loads, experts);
        using var plot = ChartStyle.NewPlot($"Expert load · {LayerName(run, layer)} · {run.Name}", "step", "routed expert");
        var map = plot.Add.Heatmap(grid);
        map.Colormap = BlueWhiteRed;
        map.ManualRange = new ScottPlot.Range(0, 2.0 / experts);
        map.FlipVertically = true;   // expert 0 at the bottom
        var extent = new CoordinateRect(steps[0] - 0.5, steps[^1] + 0.5, -0.5, experts - 0.5);
        map.Rectangle = extent;
        plot.Add.ColorBar(map).Label = $"share of routed tokens (even: 1/{experts} = {1.0 / experts:0.####})";
        plot.Axes.SetLimits(extent);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        return ChartStyle.Png(plot, height: Math.Clamp(200 + 8 * experts, ChartStyle.Height, 1000));
    }

    /// <summary>
    /// The grid [expert, column] of a heatmap: with more steps than <see cref="MaxColumns"/>, each column is the mean of a
    /// contiguous run of steps. An expert a step did not report is NaN (drawn transparent).
    /// </summary>
    public static double[,] Columns(IReadOnlyList<double[]> loads, int experts)
    {
        int columns = Math.Min(loads.Count, MaxColumns);
        var grid = new double[experts, columns];
        for (int c = 0; c < columns; c++)
        {
            int from = (int)((long)c * loads.Count / columns), to = (int)((long)(c + 1) * loads.Count / columns);
            for (int e = 0; e < experts; e++)
            {
                double sum = 0;
                int count = 0;
                for (int s = from; s < to; s++)
                    if (e < loads[s].Length) { sum += loads[s][e]; count++; }
                grid[e, c] = count > 0 ? sum / count : double.NaN;
            }
        }
        return grid;
    }

    /// <summary>A per-layer value at every step that logged that layer (the layer's slot in moe_layers can differ by step).</summary>
    private static (double[] Steps, T[] Values) Series<T>(RunMetrics run, int layer, Func<Training.StepMetrics, int, T> value)
    {
        var points = run.Steps
            .Select(m => (m.Step, Slot: Array.IndexOf(m.MoeLayers, layer), Metrics: m))
            .Where(p => p.Slot >= 0)
            .ToList();
        return (points.Select(p => (double)p.Step).ToArray(), points.Select(p => value(p.Metrics, p.Slot)).ToArray());
    }

    /// <summary>Ten distinct colours for a small model; a blue-to-red ramp by depth beyond that.</summary>
    private static Color LayerColor(int index, int count) =>
        count <= 10
            ? new ScottPlot.Palettes.Category10().GetColor(index)
            : new ScottPlot.Colormaps.Turbo().GetColor(index / (double)(count - 1));
}
