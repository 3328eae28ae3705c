using System.Text;
using System.Text.Json;
using SeekSharp.Model;
using SeekSharp.Training;

namespace SeekSharp.Cli.Plotting;

/// <summary>
/// What the charts draw from a run folder: its metrics.jsonl (required) and, when there, the model's layer count
/// (to tell MTP layers from main ones) and the gradient clip (drawn on the gradient-norm panel).
/// </summary>
internal sealed record RunMetrics
{
    /// <summary>The run folder's own name, shown in every title so charts of two runs are not confused.</summary>
    public required string Name { get; init; }

    /// <summary>One record per optimiser step, in step order.</summary>
    public required IReadOnlyList<StepMetrics> Steps { get; init; }

    /// <summary>num_hidden_layers of the latest checkpoint's config; MoE layers at or past it are MTP layers. Null when unknown.</summary>
    public int? MainLayers { get; init; }

    /// <summary>The run's global gradient-norm clip; null when unknown or off.</summary>
    public double? GradClip { get; init; }

    /// <summary>Reads a run folder; every problem with metrics.jsonl is a one-line error naming the file and line.</summary>
    public static RunMetrics Load(string runDirectory, TextWriter notes)
    {
        if (!Directory.Exists(runDirectory))
            throw new InvalidInputException($"{runDirectory}: no such run folder.");
        var path = Path.Combine(runDirectory, TrainingRun.MetricsFile);
        if (!File.Exists(path))
            throw new InvalidInputException($"{path} not found: {runDirectory} is not a training run folder (seeksharp train --out writes one).");
        var steps = ReadSteps(path, notes);
        if (steps.Count == 0) throw new InvalidInputException($"{path} holds no steps yet.");
        return new RunMetrics
        {
            Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDirectory))),
            Steps = steps,
            MainLayers = MainLayerCount(runDirectory, notes),
            GradClip = GradClipOf(runDirectory),
        };
    }

    /// <summary>
    /// One StepMetrics per non-blank line. A last line that fails to parse and has no newline after it was cut short by a
    /// run stopped mid-write: it is skipped with a note. Anywhere else a bad line is an error. A step logged twice keeps
    /// its later record.
    /// </summary>
    public static List<StepMetrics> ReadSteps(string path, TextWriter notes)
    {
        var lines = File.ReadAllText(path, Encoding.UTF8).Split('\n');   // after a final newline the last item is ""
        var byStep = new SortedDictionary<long, StepMetrics>();
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            bool unfinished = i == lines.Length - 1;                     // no newline follows it
            StepMetrics m;
            try
            {
                m = JsonSerializer.Deserialize<StepMetrics>(line) ?? throw new JsonException("the line is null, not an object");
            }
            catch (JsonException) when (unfinished)
            {
                notes.WriteLine($"note: skipped the unfinished last line of {path} (line {i + 1}): the run was probably stopped mid-write.");
                continue;
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"{path} line {i + 1}: not a metrics record: {e.Message}", e);
            }
            Check(m, path, i + 1);
            byStep[m.Step] = m;
        }
        return [.. byStep.Values];
    }

    private static void Check(StepMetrics m, string path, int line)
    {
        if (m.MaxVio.Length != m.MoeLayers.Length || m.ExpertLoad.Length != m.MoeLayers.Length)
            throw new InvalidInputException(
                $"{path} line {line}: moe_layers has {m.MoeLayers.Length} entries but max_vio {m.MaxVio.Length} and expert_load {m.ExpertLoad.Length}; they must agree.");
        if (m.ExpertLoad.Any(loads => loads is null))
            throw new InvalidInputException($"{path} line {line}: expert_load holds a null row.");
    }

    private static int? MainLayerCount(string runDirectory, TextWriter notes)
    {
        var checkpoint = TrainingRun.LatestCheckpoint(runDirectory);
        if (checkpoint is null) return null;
        try
        {
            return ModelConfig.Load(checkpoint).NumHiddenLayers;
        }
        catch (SeekSharpException e)
        {
            notes.WriteLine($"note: MTP layers are not told apart ({e.Message})");
            return null;
        }
    }

    private static double? GradClipOf(string runDirectory)
    {
        var path = Path.Combine(runDirectory, TrainingRun.RunFile);
        if (!File.Exists(path)) return null;
        try
        {
            var options = JsonSerializer.Deserialize<TrainingOptions>(File.ReadAllText(path), TrainingOptions.Json);
            return options?.Optimizer.GradClip is > 0 and var clip ? clip : null;
        }
        catch (JsonException)
        {
            return null;   // the charts do without it; seeksharp train --resume is the one that reports a broken run.json
        }
    }
}
