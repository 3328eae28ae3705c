namespace SeekSharp.Model;

/// <summary>
/// The model folder a path names. A model folder (config.json beside the weights) is itself; a training run
/// (<c>RUN</c>, holding run.json and checkpoints/), its <c>RUN/checkpoints</c> folder and the file
/// <c>RUN/checkpoints/latest</c> all mean the run's newest complete checkpoint, the folder <c>latest</c> names
/// (a training run writes that layout). A config.json file means its folder. A GGUF file means itself.
/// </summary>
public static class ModelPath
{
    public const string ConfigFile = "config.json";
    /// <summary>A training run's folder of checkpoints, and the file in it that names the newest complete one.</summary>
    public const string CheckpointsDir = "checkpoints", LatestFile = "latest";

    /// <summary>Returns the model folder <paramref name="path"/> stands for, or throws a <see cref="CheckpointException"/> naming it.</summary>
    public static string Resolve(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path))
        {
            if (IsGguf(path)) return path;
            string folder = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
            return Path.GetFileName(path) switch
            {
                LatestFile => Latest(folder, path),
                ConfigFile => folder,
                _ => throw new CheckpointException($"{path} is a file but not GGUF; give a model folder (config.json and weights), a .gguf file, a training run folder, or its checkpoints/latest."),
            };
        }
        if (!Directory.Exists(path)) throw new CheckpointException($"Model folder not found: {path}");
        if (File.Exists(Path.Combine(path, ConfigFile))) return path;
        string checkpoints = Path.Combine(path, CheckpointsDir);
        if (Directory.Exists(checkpoints)) return Latest(checkpoints, path);                   // RUN
        if (File.Exists(Path.Combine(path, LatestFile))) return Latest(path, path);  // RUN/checkpoints
        throw new CheckpointException(
            $"{path} holds no model: no {ConfigFile}, and it is not a training run (run.json, checkpoints/), its checkpoints folder or checkpoints/latest.");
    }

    /// <summary>Whether <paramref name="path"/> is a GGUF file (docs/gguf.md), which stands for itself.</summary>
    public static bool IsGguf(string path) => File.Exists(path) && Formats.Gguf.GgufFile.HasMagic(path);

    // The checkpoint that checkpoints/latest names; `given` is what the user typed, for the messages.
    private static string Latest(string checkpoints, string given)
    {
        string latest = Path.Combine(checkpoints, LatestFile);
        if (!File.Exists(latest))
            throw new CheckpointException($"{given} has no complete checkpoint yet ({latest} is missing).");
        string name = File.ReadAllText(latest).Trim();
        string folder = Path.Combine(checkpoints, name);
        if (name.Length == 0 || !File.Exists(Path.Combine(folder, ConfigFile)))
            throw new CheckpointException($"{latest} names checkpoint '{name}', which is not there (no {Path.Combine(folder, ConfigFile)}).");
        return folder;
    }
}
