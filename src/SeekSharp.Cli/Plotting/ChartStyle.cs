using ScottPlot;
using SkiaSharp;

namespace SeekSharp.Cli.Plotting;

/// <summary>The look every chart shares: sizes, font, colours, the raw-faint / smoothed-bold pair, and PNG output.</summary>
internal static class ChartStyle
{
    public const int Width = 1200, Height = 600, PanelHeight = 420;

    public static readonly Color Main = Colors.C0, Mtp = Colors.C1, Validation = Colors.C3;

    // ScottPlot asks for Segoe UI and falls back to DejaVu Serif on Debian; a sans face reads better at chart sizes.
    private static readonly string? SansFont =
        new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica" }.FirstOrDefault(SKFontManager.Default.FontFamilies.Contains);

    /// <summary>An empty chart with its title and axis labels.</summary>
    public static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        if (SansFont is not null) plot.Font.Set(SansFont);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };   // steps
        return plot;
    }

    /// <summary>A noisy series: the raw values as a thin faint line, and their moving average on top (labelled).</summary>
    public static void AddSmoothed(Plot plot, double[] xs, double[] ys, int window, Color color, string? label)
    {
        if (window > 1)
        {
            var raw = plot.Add.ScatterLine(xs, ys, color.WithAlpha(0.25));
            raw.LineWidth = 1;
            ys = Smoothing.MovingAverage(ys, window);
        }
        Line(plot, xs, ys, color).LegendText = label ?? "";
    }

    /// <summary>A bold line; a run of one step has no line to draw, so its point gets a marker.</summary>
    public static ScottPlot.Plottables.Scatter Line(Plot plot, double[] xs, double[] ys, Color color)
    {
        var line = plot.Add.ScatterLine(xs, ys, color);
        line.LineWidth = 2;
        if (xs.Length == 1) line.MarkerSize = 7;
        return line;
    }

    /// <summary>Points at the steps where a value exists (validation losses).</summary>
    public static void AddMarkers(Plot plot, double[] xs, double[] ys, Color color, MarkerShape shape, string label)
    {
        if (xs.Length == 0) return;
        var points = plot.Add.ScatterPoints(xs, ys, color);
        points.MarkerShape = shape;
        points.MarkerSize = 9;
        points.LegendText = label;
    }

    /// <summary>Panels stacked top to bottom, sharing the step axis; the first carries the title.</summary>
    public static Multiplot Stack(params Plot[] panels)
    {
        var figure = new Multiplot(panels[0]);
        foreach (var panel in panels.Skip(1)) figure.AddPlot(panel);
        figure.Layout = new ScottPlot.MultiplotLayouts.Rows();
        figure.SharedAxes.ShareX(figure.GetPlots());
        return figure;
    }

    public static byte[] Png(Plot plot, int width = Width, int height = Height)
    {
        using var image = plot.GetImage(width, height);
        return image.GetImageBytes(ImageFormat.Png);
    }

    public static byte[] Png(Multiplot figure)
    {
        using var image = figure.Render(Width, PanelHeight * figure.Count());
        return image.GetImageBytes(ImageFormat.Png);
    }

    /// <summary>Writes a file under a temporary name, then renames it, so a reader never sees half a PNG.</summary>
    public static void WriteAtomically(string path, byte[] bytes)
    {
        var tmp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
