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
/// RUN_DIR/checkpoints/step-00000100/    config.json, model.safetensors (F32), tokenizer files, training_state.bin, manifest.json
/// RUN_DIR/checkpoints/latest            the name of the newest complete checkpoint
/// </code>
/// A checkpoint is written into a temporary folder, synced, given a manifest of sizes and SHA-256s and renamed into
/// place, then <c>latest</c> is replaced the same way, so a run killed at any moment leaves a complete checkpoint to
/// resume from (step 0 is saved before the first step), and resume passes over one that does not verify.
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
        if (writer && System.IO.Directory.Exists(directory) && System.IO.Directory.EnumerateFileSystemEntries(directory).Any() && !NeverSaved(directory))
            throw new InvalidInputException($"{directory} is not empty: continue it with --resume, or choose a new --out.");
        var data = OpenData(options, model.Config, tokenizer);
        var run = new TrainingRun(directory, new Trainer(model, data, options, pool, parallel), tokenizer);
        run.Trainer.GatherExperts(optimizerState: true);   // expert parallel: rank 0 writes every rank's experts
        parallel?.GatherOptimizerState();                  // ZeRO-1: rank 0 writes every rank's moments
        if (writer)
        {
            System.IO.Directory.CreateDirectory(directory);
            AtomicWrite(Path.Combine(directory, RunFile), JsonSerializer.Serialize(options, TrainingOptions.Json));
            File.WriteAllText(Path.Combine(directory, MetricsFile), "");
            run.SaveCheckpoint();
        }
        run.Trainer.ReleaseExperts();
        return run;
    }

    // A run stopped before its first checkpoint (step 0) was complete: only run.json, metrics.jsonl and what a killed
    // checkpoint write leaves. There is nothing to resume, so starting again in that folder is allowed.
    private static bool NeverSaved(string directory)
    {
        string[] ours = [RunFile, RunFile + ".tmp", MetricsFile, CheckpointsDir];
        if (System.IO.Directory.EnumerateFileSystemEntries(directory).Any(e => !ours.Contains(Path.GetFileName(e)))) return false;
        var root = Path.Combine(directory, CheckpointsDir);
        return !System.IO.Directory.Exists(root) || System.IO.Directory.EnumerateFileSystemEntries(root)
            .All(e => Path.GetFileName(e).StartsWith(".tmp-", StringComparison.Ordinal) || Path.GetFileName(e) == LatestFile + ".tmp");
    }

    /// <summary>
    /// Continues a run from its newest checkpoint that verifies (<see cref="CheckpointManifest"/>, SHA-256s included);
    /// <paramref name="steps"/> may extend it. A damaged newest checkpoint is passed over for the one before it, and
    /// <see cref="SkippedCheckpoints"/> says which and why.
    /// </summary>
    public static TrainingRun Resume(string directory, WorkerPool pool, int? steps = null, DataParallel? parallel = null)
    {
        var runFile = Path.Combine(directory, RunFile);
        if (!File.Exists(runFile)) throw new InvalidInputException($"{directory} holds no training run to resume ({RunFile} is missing).");
        TrainingOptions options;
        try { options = JsonSerializer.Deserialize<TrainingOptions>(File.ReadAllText(runFile), TrainingOptions.Json)!; }
        catch (JsonException e) { throw new CheckpointException($"{runFile} is not a valid run file: {e.Message}", e); }
        if (steps is { } s) options = options with { Steps = s, Schedule = options.Schedule with { TotalSteps = s } };
        var skipped = new List<string>();
        foreach (var (checkpoint, missing) in ResumeCandidates(directory))
        {
            string? problem = missing ?? ManifestProblem(checkpoint);
            if (problem is null)
            {
                try { return Continue(directory, checkpoint, options, pool, parallel, skipped); }
                catch (Exception e) when (e is CheckpointException or ConfigException or TokenizerException or IOException) { problem = e.Message; }
            }
            skipped.Add($"checkpoint {checkpoint} is not usable: {problem}");
        }
        if (skipped.Count == 0)
            throw new CheckpointException($"{directory} has no complete checkpoint to resume from: it stopped before step 0 was saved; start it again without --resume.");
        throw new CheckpointException($"{directory} has no complete checkpoint to resume from ({string.Join("; ", skipped)}).");
    }

    /// <summary>Checkpoints passed over by <see cref="Resume"/>, newest first, each with what was wrong (one line each).</summary>
    public IReadOnlyList<string> SkippedCheckpoints { get; private init; } = [];

    private static TrainingRun Continue(string directory, string checkpoint, TrainingOptions options, WorkerPool pool, DataParallel? parallel,
        List<string> skipped)
    {
        var model = ModelLoader.Load(checkpoint, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        Trainer trainer;
        Tokenizer? tokenizer;
        try
        {
            tokenizer = File.Exists(Path.Combine(checkpoint, "tokenizer.json")) ? Tokenizer.Load(checkpoint) : null;
            var data = OpenData(options, model.Config, tokenizer);
            trainer = new Trainer(model, data, options, pool, parallel);
            using var stream = File.OpenRead(Path.Combine(checkpoint, StateFile));
            trainer.LoadState(stream, Path.Combine(checkpoint, StateFile));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        var run = new TrainingRun(directory, trainer, tokenizer) { SkippedCheckpoints = skipped };
        if (run.IsWriter) run.TruncateMetrics(trainer.Step);
        return run;
    }

    // The checkpoint `latest` names, then every earlier one, newest first; each with why it cannot be used before
    // looking inside (null: look). Without a readable `latest`, every checkpoint of the run.
    private static IEnumerable<(string Folder, string? Missing)> ResumeCandidates(string directory)
    {
        var root = Path.Combine(directory, CheckpointsDir);
        if (!System.IO.Directory.Exists(root)) yield break;
        var steps = System.IO.Directory.EnumerateDirectories(root, "step-*").Select(Path.GetFileName).OfType<string>()
            .Order(StringComparer.Ordinal).Reverse().ToList();
        var latestFile = Path.Combine(root, LatestFile);
        string? named = File.Exists(latestFile) ? File.ReadAllText(latestFile).Trim() : null;
        if (named is { Length: > 0 } && !steps.Contains(named))
            yield return (Path.Combine(root, named), $"{LatestFile} names it, but it is not there");
        foreach (var step in steps)
            if (named is not { Length: > 0 } || string.CompareOrdinal(step, named) <= 0)
                yield return (Path.Combine(root, step), null);
    }

    // Every checkpoint this SeekSharp writes has a manifest; one without is from an older SeekSharp (loaded unverified)
    // unless an earlier checkpoint of the run has one: then it lost its manifest, and cannot be trusted.
    private static string? ManifestProblem(string checkpoint)
    {
        if (CheckpointManifest.Exists(checkpoint)) return CheckpointManifest.Problem(checkpoint, checksums: true);
        var root = Path.GetDirectoryName(checkpoint)!;
        string name = Path.GetFileName(checkpoint);
        bool earlierHasOne = System.IO.Directory.EnumerateDirectories(root, "step-*")
            .Any(d => string.CompareOrdinal(Path.GetFileName(d), name) < 0 && CheckpointManifest.Exists(d));
        return earlierHasOne ? $"{CheckpointManifest.FileName} is missing" : null;
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
            StepMetrics m;
            try { m = Trainer.TrainStep(); }
            catch (TrainingDivergedException e)
            {
                var root = Path.Combine(Directory, CheckpointsDir);
                throw new TrainingDivergedException(
                    $"{e.Message} The newest checkpoint, {Path.Combine(root, ReadLatest(root) ?? "(none)")}, is kept.");
            }
            bool last = Trainer.Step == o.Steps;
            bool save = last || (o.SaveEvery > 0 && Trainer.Step % o.SaveEvery == 0);
            bool evaluate = o.EvalEvery > 0 && (Trainer.Step % o.EvalEvery == 0 || last);
            if (save || evaluate) Trainer.GatherExperts(optimizerState: save);   // expert parallel: the whole model on rank 0
            try
            {
                if (IsWriter && evaluate && Trainer.Evaluate() is { } val)
                    m = m with { ValLoss = val.Total, ValLossMain = val.Main, ValLossMtp = val.Mtp };
                metrics?.WriteLine(JsonSerializer.Serialize(m));
                metrics?.Flush();
                progress?.Report(m);
                if (save)
                {
                    Trainer.Parallel?.GatherOptimizerState();   // ZeRO-1: rank 0 writes every rank's moments
                    SaveCheckpoint();
                }
            }
            finally { Trainer.ReleaseExperts(); }
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

    /// <summary>
    /// Writes the current weights and state as a new checkpoint and keeps the newest K (rank 0 only: the other ranks of a
    /// data-parallel run hold the same state and return the folder rank 0 writes). The files go into a temporary folder,
    /// each synced to disk, then <see cref="CheckpointManifest"/> (written last), then the folder is renamed into place and
    /// its parent synced, then <c>latest</c> is replaced the same way. A failed write (a full disk) deletes the temporary
    /// folder and is a <see cref="CheckpointException"/> naming the folder and the free space; the previous checkpoint and
    /// <c>latest</c> are left as they were.
    /// </summary>
    public string SaveCheckpoint()
    {
        var root = Path.Combine(Directory, CheckpointsDir);
        string name = $"step-{Trainer.Step:D8}";
        var final = Path.Combine(root, name);
        if (!IsWriter) return final;
        var tmp = Path.Combine(root, $".tmp-{name}-{Guid.NewGuid():N}");
        try
        {
            System.IO.Directory.CreateDirectory(tmp);
            ModelSaver.Save(Trainer.Model, tmp, TensorDType.F32, metadata: new Dictionary<string, string> { ["seeksharp.step"] = Trainer.Step.ToString() });
            _tokenizer?.Save(tmp);
            using (var stream = File.Create(Path.Combine(tmp, StateFile)))
            {
                Trainer.SaveState(stream);
                stream.Flush(flushToDisk: true);
            }
            CheckpointManifest.Write(tmp);
            MoveIntoPlace(root, tmp, final);
            AtomicWrite(Path.Combine(root, LatestFile), name);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(tmp);
            throw new CheckpointException(SaveFailed(root, name, e), e);
        }
        Prune(root, Trainer.Options.KeepCheckpoints, name);
        return final;
    }

    // Renames tmp to final; a checkpoint already there (the same step saved again after Ctrl+C) is first moved aside, so
    // a kill in between leaves `latest` naming a missing folder, which resume passes over for the one before.
    private static void MoveIntoPlace(string root, string tmp, string final)
    {
        string? old = null;
        if (System.IO.Directory.Exists(final))
        {
            old = Path.Combine(root, $".tmp-old-{Path.GetFileName(final)}-{Guid.NewGuid():N}");
            System.IO.Directory.Move(final, old);
        }
        System.IO.Directory.Move(tmp, final);
        Fsync.Directory(root);
        if (old is not null) System.IO.Directory.Delete(old, recursive: true);
    }

    private static string SaveFailed(string root, string name, Exception e)
    {
        string free = "";
        try { free = $" ({new DriveInfo(root).AvailableFreeSpace / 1e6:F1} MB free there)"; }
        catch (Exception x) when (x is IOException or UnauthorizedAccessException or ArgumentException) { }
        string kept = ReadLatest(root) is { } latest ? $"the newest complete checkpoint, {latest}, is kept" : "no checkpoint was saved before";
        string why = IsDiskFull(e) ? "no space left on the device" : e.Message.TrimEnd('.');
        return $"saving checkpoint {name} in {root} failed: {why}{free}; {kept}. Make room and continue with --resume.";
    }

    // ENOSPC (28 on Linux and macOS, where .NET puts the errno in HResult); ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL on Windows.
    private static bool IsDiskFull(Exception e) => e.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    private static string? ReadLatest(string root)
    {
        try { return File.Exists(Path.Combine(root, LatestFile)) ? File.ReadAllText(Path.Combine(root, LatestFile)).Trim() : null; }
        catch (IOException) { return null; }
    }

    private static void TryDelete(string folder)
    {
        try { if (System.IO.Directory.Exists(folder)) System.IO.Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // Prune removes it on the next save
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

    // Writes a small file durably: a temporary file synced to disk, renamed over the old one, then the folder synced.
    private static void AtomicWrite(string path, string text)
    {
        var tmp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
        Fsync.Directory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }
}
