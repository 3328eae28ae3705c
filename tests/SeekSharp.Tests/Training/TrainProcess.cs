using System.Diagnostics;
using System.Text.Json.Nodes;

namespace SeekSharp.Tests.Training;

/// <summary>
/// seeksharp train as a child process (what kill -9 and a mount namespace need), and the comparisons that say two runs
/// ended the same: the weights bit for bit, and metrics.jsonl line for line without its timings.
/// </summary>
internal static class TrainProcess
{
    public static string CliDll => Path.Combine(AppContext.BaseDirectory, "SeekSharp.Cli.dll");

    /// <summary>Starts <c>dotnet SeekSharp.Cli.dll args</c>, its output drained (and dropped) so that it never blocks on a full pipe.</summary>
    public static Process Start(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>metrics.jsonl without what depends on the clock (tokens/s, MFU, elapsed seconds): what must match bitwise.</summary>
    public static string[] MetricsWithoutTimings(string runDir) =>
        File.ReadLines(Path.Combine(runDir, SeekSharp.Training.TrainingRun.MetricsFile)).Select(line =>
        {
            var o = JsonNode.Parse(line)!.AsObject();
            o.Remove("tokens_per_second");
            o.Remove("mfu");
            o.Remove("elapsed_s");
            return o.ToJsonString();
        }).ToArray();

    public static float[][] Weights(string runDir)
    {
        using var model = SeekSharp.Model.ModelLoader.Load(SeekSharp.Training.TrainingRun.LatestCheckpoint(runDir)!);
        return model.Parameters.Select(p => p.ToFloat32()).ToArray();
    }
}
