namespace SeekSharp.Cli.Plotting;

/// <summary>The smoothing of the noisy per-step curves (loss, throughput, gradient norm, MaxVio).</summary>
internal static class Smoothing
{
    /// <summary>The default window: a twenty-fifth of the run, so the curve keeps about 25 independent points of detail.</summary>
    public static int DefaultWindow(int steps) => Math.Max(1, steps / 25);

    /// <summary>The number of points a centred window of <paramref name="window"/> steps really averages (an even one grows by one).</summary>
    public static int Span(int window) => 2 * (window / 2) + 1;

    /// <summary>
    /// Centred moving average over <see cref="Span"/>(<paramref name="window"/>) points. Near either end the window shrinks symmetrically
    /// (down to the raw first and last points) rather than going one-sided: a one-sided window on a falling loss curve
    /// would pull the start down, and a trailing average or EMA lags the whole curve by half a window.
    /// </summary>
    public static double[] MovingAverage(IReadOnlyList<double> values, int window)
    {
        int n = values.Count, half = Math.Max(0, window / 2);
        var prefix = new double[n + 1];
        for (int i = 0; i < n; i++) prefix[i + 1] = prefix[i] + values[i];
        var smooth = new double[n];
        for (int i = 0; i < n; i++)
        {
            int k = Math.Min(half, Math.Min(i, n - 1 - i));
            smooth[i] = (prefix[i + k + 1] - prefix[i - k]) / (2 * k + 1);
        }
        return smooth;
    }
}
