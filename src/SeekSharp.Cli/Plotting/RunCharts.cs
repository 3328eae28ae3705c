namespace SeekSharp.Cli.Plotting;

/// <summary>One PNG the plot command writes: its file name and how to draw it (drawn when written, one at a time).</summary>
internal sealed record Chart(string FileName, Func<byte[]> Draw);

/// <summary>The list of charts for a run, in the order they are written.</summary>
internal static class RunCharts
{
    public static IEnumerable<Chart> All(RunMetrics run, int window)
    {
        yield return new Chart("loss.png", () => TrainingCharts.Loss(run, window));
        yield return new Chart("throughput.png", () => TrainingCharts.Throughput(run, window));
        yield return new Chart("lr.png", () => TrainingCharts.LearningRate(run, window));
        var layers = MoeCharts.Layers(run);
        if (layers.Length == 0) yield break;
        yield return new Chart("balance.png", () => MoeCharts.Balance(run, window));
        foreach (int layer in layers)
            yield return new Chart($"expert-load-layer-{layer}.png", () => MoeCharts.ExpertLoad(run, layer));
    }
}
