namespace SeekSharp.Formats;

/// <summary>Opens a checkpoint, one file or a Hugging Face model folder, as a single <see cref="ITensorSource"/>.</summary>
public static class Checkpoint
{
    /// <summary>
    /// Opens <paramref name="pathOrDirectory"/>, reading headers only: tensor bytes stay on disk, memory-mapped,
    /// until asked for. What is opened:
    /// <list type="bullet">
    /// <item>a <c>.safetensors</c> file: that file;</item>
    /// <item>a <c>*.index.json</c> file: the shards its <c>weight_map</c> names, in that file's folder;</item>
    /// <item>a folder with <c>model.safetensors</c>: that file, and nothing else (other .safetensors files, such as
    /// saved gradients, are ignored; this is also the rule of Hugging Face's loader);</item>
    /// <item>otherwise a folder with <c>model.safetensors.index.json</c>: the index and its shards;</item>
    /// <item>otherwise every <c>*.safetensors</c> file in the folder (not in subfolders), in ordinal name order, e.g.
    /// DeepSeek's converted <c>model0-mp1.safetensors</c>.</item>
    /// </list>
    /// Across several files every tensor name must appear once, and an index must agree with its shards. A folder with a
    /// <see cref="CheckpointManifest"/> (what a training run writes) must match it in file names and sizes, a check that
    /// reads no data; SHA-256s are checked where the whole checkpoint is read anyway (resuming and fine-tuning).
    /// <paramref name="progress"/> hears after each file is opened; cancelling stops between files and closes
    /// everything opened so far.
    /// </summary>
    /// <exception cref="CheckpointException">Nothing to open, or a file or index that is invalid or inconsistent.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ITensorSource Open(string pathOrDirectory, IProgress<CheckpointLoadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        string path = Path.GetFullPath(pathOrDirectory);
        if (File.Exists(path))
        {
            return path.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)
                ? OpenIndexed(path, progress, cancellationToken)
                : OpenFiles(path, [path], weightMap: null, progress, cancellationToken);
        }
        if (!Directory.Exists(path))
            throw new CheckpointException($"{path}: no such file or folder");
        CheckpointManifest.Verify(path, checksums: false, cancellationToken);

        string single = Path.Combine(path, "model.safetensors");
        if (File.Exists(single))
            return OpenFiles(single, [single], weightMap: null, progress, cancellationToken);
        string index = Path.Combine(path, SafetensorsIndex.FileName);
        if (File.Exists(index))
            return OpenIndexed(index, progress, cancellationToken);
        var files = Directory.EnumerateFiles(path, "*.safetensors")
            .Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)) // the pattern alone also matches ".safetensorsX" on Windows
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (files.Length == 0)
            throw new CheckpointException($"{path}: no model.safetensors, {SafetensorsIndex.FileName} or other .safetensors file in this folder");
        return OpenFiles(path, files, weightMap: null, progress, cancellationToken);
    }

    private static ITensorSource OpenIndexed(string indexPath, IProgress<CheckpointLoadProgress>? progress, CancellationToken cancellationToken)
    {
        var weightMap = SafetensorsIndex.Read(indexPath);
        var shards = weightMap.Values.Distinct().Order(StringComparer.Ordinal).ToArray();
        return OpenFiles(indexPath, shards, weightMap, progress, cancellationToken);
    }

    private static ITensorSource OpenFiles(string location, string[] files, IReadOnlyDictionary<string, string>? weightMap,
        IProgress<CheckpointLoadProgress>? progress, CancellationToken cancellationToken)
    {
        var opened = new List<ITensorSource>(files.Length);
        try
        {
            foreach (var file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                opened.Add(SafetensorsFile.Open(file));
                progress?.Report(new CheckpointLoadProgress(opened.Count, files.Length, file));
            }
            return files.Length == 1 && weightMap is null ? opened[0] : new ShardedTensorSource(location, opened, weightMap);
        }
        catch
        {
            foreach (var source in opened) source.Dispose();
            throw;
        }
    }
}
