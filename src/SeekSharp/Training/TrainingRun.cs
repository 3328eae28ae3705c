using System.Text.Json;
using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tokenization;
using SeekSharp.Training.Data;

namespace SeekSharp.Training;

/// <summary>
/// A training run on disk:
/// <code>
/// RUN_DIR/run.json                      the options (a resumed run continues exactly these)
/// RUN_DIR/metrics.jsonl                 one StepMetrics per line
/// RUN_DIR/checkpoints/step-00000100/    config.json, model.safetensors (F32), tokenizer files, training_state.bin
/// RUN_DIR/checkpoints/latest            the name of the newest complete checkpoint
/// </code>
/// A checkpoint is written into a temporary folder and renamed into place, then <c>latest</c> is replaced the same way,
/// so a run killed at any moment leaves a complete checkpoint to resume from (step 0 is saved before the first step).
/// In a data-parallel run every rank trains and only rank 0 writes (run.json, metrics, checkpoints) and evaluates;
/// the state is the same on every rank, so a run resumes on any number of ranks that divides the batch.
/// </summary>
public sealed class TrainingRun
{
    public const string RunFile = "run.json", MetricsFile = "metrics.jsonl", StateFile = "training_state.bin";
    public const string CheckpointsDir = ModelPath.CheckpointsDir, LatestFile = ModelPath.LatestFile;

    private readonly Tokenizer? _tokenizer;

    public string Directory { get; }
    public Trainer Trainer { get; }
    /// <summary>This process writes the run's files: always, except on ranks other than 0 of a data-parallel run.</summary>
    public bool IsWriter => Writes(Trainer.Parallel);

    private static bool Writes(DataParallel? parallel) => parallel is null || parallel.Rank == 0;

    private TrainingRun(string directory, Trainer trainer, Tokenizer? tokenizer)
    {
        Directory = directory;
        Trainer = trainer;
        _tokenizer = tokenizer;
    }

    /// <summary>Begins a new run in an empty (or new) folder.</summary>
    public static TrainingRun Start(string directory, DeepSeekModel model, Tokenizer? tokenizer, TrainingOptions options, WorkerPool pool,
        DataParallel? parallel = null)
    {
        options.Validate();
        bool writer = Writes(parallel);
        if (writer && System.IO.Directory.Exists(directory) && System.IO.Directory.EnumerateFileSystemEntries(directory).Any())
            throw new InvalidInputException($"{directory} is not empty: continue it with --resume, or choose a new --out.");
        var data = OpenData(options, model.Config, tokenizer);
        var run = new TrainingRun(directory, new Trainer(model, data, options, pool, parallel), tokenizer);
        parallel?.GatherOptimizerState();   // ZeRO-1: rank 0 writes every rank's moments
        if (!writer) return run;
        System.IO.Directory.CreateDirectory(directory);
        AtomicWrite(Path.Combine(directory, RunFile), JsonSerializer.Serialize(options, TrainingOptions.Json));
        File.WriteAllText(Path.Combine(directory, MetricsFile), "");
        run.SaveCheckpoint();
        return run;
    }

    /// <summary>Continues a run from its newest checkpoint; <paramref name="steps"/> may extend it.</summary>
    public static TrainingRun Resume(string directory, WorkerPool pool, int? steps = null, DataParallel? parallel = null)
    {
        var runFile = Path.Combine(directory, RunFile);
        if (!File.Exists(runFile)) throw new InvalidInputException($"{directory} holds no training run to resume ({RunFile} is missing).");
        TrainingOptions options;
        try { options = JsonSerializer.Deserialize<TrainingOptions>(File.ReadAllText(runFile), TrainingOptions.Json)!; }
        catch (JsonException e) { throw new CheckpointException($"{runFile} is not a valid run file: {e.Message}", e); }
        if (steps is { } s) options = options with { Steps = s, Schedule = options.Schedule with { TotalSteps = s } };
        var checkpoint = LatestCheckpoint(directory) ?? throw new CheckpointException($"{directory} has no complete checkpoint to resume from.");
        var model = ModelLoader.Load(checkpoint, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        var tokenizer = File.Exists(Path.Combine(checkpoint, "tokenizer.json")) ? Tokenizer.Load(checkpoint) : null;
        var data = OpenData(options, model.Config, tokenizer);
        var trainer = new Trainer(model, data, options, pool, parallel);
        using (var stream = File.OpenRead(Path.Combine(checkpoint, StateFile)))
            trainer.LoadState(stream, Path.Combine(checkpoint, StateFile));
        var run = new TrainingRun(directory, trainer, tokenizer);
        if (run.IsWriter) run.TruncateMetrics(trainer.Step);
        return run;
    }

    private static TokenDataset OpenData(TrainingOptions options, ModelConfig config, Tokenizer? tokenizer)
    {
        Func<string, int[]>? encode = tokenizer is null ? null : text => tokenizer.Encode(text);
        if (tokenizer is not null && tokenizer.VocabSize > config.VocabSize)
            throw new InvalidInputException($"The tokenizer has {tokenizer.VocabSize} tokens but the model only {config.VocabSize} embedding rows.");
        if (options.ChatData)
        {
            if (tokenizer is null) throw new InvalidInputException("Chat data needs a tokenizer with a chat template: give --tokenizer, or --init-from a model folder that has one.");
            return ChatDataset.Open(options.DataPath, tokenizer, config.VocabSize, options.ValidationFraction);
        }
        if (tokenizer is null && config.VocabSize < 256 && !options.DataPath.EndsWith(".json") && !options.DataPath.EndsWith(".bin"))
            throw new InvalidInputException($"Without a tokenizer text is read as UTF-8 bytes, which needs vocab_size ≥ 256 (this model has {config.VocabSize}).");
        return DatasetLoader.Open(options.DataPath, config.VocabSize, encode, tokenizer?.EosId ?? config.EosTokenId, options.ValidationFraction);
    }

    /// <summary>Trains to <see cref="TrainingOptions.Steps"/>, evaluating and saving as configured; cancellation stops between steps after saving.</summary>
    public void Run(IProgress<StepMetrics>? progress = null, CancellationToken cancellationToken = default)
    {
        var o = Trainer.Options;
        using var metrics = IsWriter ? new StreamWriter(Path.Combine(Directory, MetricsFile), append: true) : null;
        while (Trainer.Step < o.Steps)
        {
            if (StopRequested(cancellationToken)) throw new OperationCanceledException(cancellationToken);
            var m = Trainer.TrainStep();
            bool last = Trainer.Step == o.Steps;
            if (IsWriter && o.EvalEvery > 0 && (Trainer.Step % o.EvalEvery == 0 || last) && Trainer.Evaluate() is { } val)
                m = m with { ValLoss = val.Total, ValLossMain = val.Main, ValLossMtp = val.Mtp };
            metrics?.WriteLine(JsonSerializer.Serialize(m));
            metrics?.Flush();
            progress?.Report(m);
            if (last || (o.SaveEvery > 0 && Trainer.Step % o.SaveEvery == 0))
            {
                Trainer.Parallel?.GatherOptimizerState();   // ZeRO-1: rank 0 writes every rank's moments
                SaveCheckpoint();
            }
        }
    }

    // A stop (Ctrl+C) between steps; in a data-parallel run the ranks agree on it, so that all stop at the same step
    // (one rank leaving while another waits in a collective would hang the job).
    private bool StopRequested(CancellationToken ct)
    {
        if (Trainer.Parallel is not { Ranks: > 1 } dp) return ct.IsCancellationRequested;
        Span<int> flag = [ct.IsCancellationRequested ? 1 : 0];
        dp.Communicator.AllReduceMax(flag);
        return flag[0] != 0;
    }

    /// <summary>The newest complete checkpoint folder, or null.</summary>
    public static string? LatestCheckpoint(string runDirectory)
    {
        var latest = Path.Combine(runDirectory, CheckpointsDir, LatestFile);
        if (!File.Exists(latest)) return null;
        var dir = Path.Combine(runDirectory, CheckpointsDir, File.ReadAllText(latest).Trim());
        return System.IO.Directory.Exists(dir) ? dir : null;
    }

    /// <summary>Writes the current weights and state as a new checkpoint and keeps the newest K (rank 0 only: the other
    /// ranks of a data-parallel run hold the same state and return the folder rank 0 writes).</summary>
    public string SaveCheckpoint()
    {
        var root = Path.Combine(Directory, CheckpointsDir);
        if (!IsWriter) return Path.Combine(root, $"step-{Trainer.Step:D8}");
        System.IO.Directory.CreateDirectory(root);
        string name = $"step-{Trainer.Step:D8}";
        var final = Path.Combine(root, name);
        var tmp = Path.Combine(root, $".tmp-{name}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(tmp);
        ModelSaver.Save(Trainer.Model, tmp, TensorDType.F32, metadata: new Dictionary<string, string> { ["seeksharp.step"] = Trainer.Step.ToString() });
        _tokenizer?.Save(tmp);
        using (var stream = File.Create(Path.Combine(tmp, StateFile)))
        {
            Trainer.SaveState(stream);
            stream.Flush(flushToDisk: true);
        }
        if (System.IO.Directory.Exists(final)) System.IO.Directory.Delete(final, recursive: true);
        System.IO.Directory.Move(tmp, final);
        AtomicWrite(Path.Combine(root, LatestFile), name);
        Prune(root, Trainer.Options.KeepCheckpoints, name);
        return final;
    }

    private static void Prune(string root, int keep, string newest)
    {
        var all = System.IO.Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>().ToList();
        foreach (var stale in all.Where(n => n.StartsWith(".tmp-", StringComparison.Ordinal)))
            System.IO.Directory.Delete(Path.Combine(root, stale), recursive: true);      // left by a killed run
        var steps = all.Where(n => n.StartsWith("step-", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        foreach (var old in steps.Take(Math.Max(0, steps.Count - keep)))
            if (old != newest) System.IO.Directory.Delete(Path.Combine(root, old), recursive: true);
    }

    // Drops metric lines past the checkpoint being resumed: those steps run again.
    private void TruncateMetrics(long step)
    {
        var path = Path.Combine(Directory, MetricsFile);
        if (!File.Exists(path)) return;
        var kept = File.ReadLines(path).Where(line =>
        {
            if (string.IsNullOrWhiteSpace(line)) return false;
            try { return JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64() <= step; }
            catch (JsonException) { return false; }   // a line cut off by the kill
        }).ToList();
        AtomicWrite(path, kept.Count == 0 ? "" : string.Join("\n", kept) + "\n");
    }

    private static void AtomicWrite(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
