using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SeekSharp.Formats;

/// <summary>
/// manifest.json of a checkpoint folder: every other file in it, with its size and SHA-256. A training run writes it last,
/// after every file is on disk, then syncs and renames the folder into place (<see cref="Training.TrainingRun"/>), so a
/// folder holding a manifest that verifies is a complete checkpoint, and one that does not is damaged (a truncated
/// copy, a full disk, a flipped bit). SHA-256 rather than a faster 64-bit hash: it is in .NET with no package, runs at
/// about 2 GB/s with the CPU's SHA instructions (far faster than a training step writes), and `sha256sum` checks it by hand.
/// A folder without a manifest (from an older SeekSharp, or any Hugging Face folder) is not verified.
/// </summary>
public sealed record CheckpointManifest
{
    public const string FileName = "manifest.json";
    public const string FormatName = "seeksharp checkpoint manifest";
    public const int CurrentVersion = 1;

    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;
    [JsonPropertyName("version")] public int Version { get; init; } = CurrentVersion;
    [JsonPropertyName("files")] public IReadOnlyList<Entry> Files { get; init; } = [];

    /// <summary>One file of the folder: its name (no folders), size in bytes and SHA-256 in lower-case hex.</summary>
    public sealed record Entry(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("sha256")] string Sha256);

    /// <summary>Whether <paramref name="folder"/> has a manifest.</summary>
    public static bool Exists(string folder) => File.Exists(Path.Combine(folder, FileName));

    /// <summary>
    /// Hashes every file of <paramref name="folder"/> (a checkpoint is flat: a subfolder is an error), syncs each to disk,
    /// then writes manifest.json and syncs it and the folder. Call it last, on the temporary folder, before the rename.
    /// </summary>
    public static CheckpointManifest Write(string folder, CancellationToken cancellationToken = default)
    {
        if (Directory.EnumerateDirectories(folder).FirstOrDefault() is { } sub)
            throw new CheckpointException($"{folder}: a checkpoint folder holds files only, not the folder {Path.GetFileName(sub)}.");
        var entries = new List<Entry>();
        foreach (var path in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path);
            if (name == FileName) continue;
            cancellationToken.ThrowIfCancellationRequested();
            Fsync.File(path);
            entries.Add(new Entry(name, new FileInfo(path).Length, Sha256Of(path)));
        }
        var manifest = new CheckpointManifest { Files = entries };
        var target = Path.Combine(folder, FileName);
        using (var stream = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, manifest, Options);
            stream.Flush(flushToDisk: true);
        }
        Fsync.Directory(folder);
        return manifest;
    }

    /// <summary>
    /// What is wrong with <paramref name="folder"/> by its manifest, or null when it verifies: a listed file missing or of
    /// another size, or with <paramref name="checksums"/> a SHA-256 that differs; an unreadable manifest is wrong too.
    /// Files the manifest does not list are allowed (a tokenizer or a README copied in later), and not checked. A folder
    /// without a manifest gives null (nothing to check: see <see cref="Exists"/>).
    /// </summary>
    public static string? Problem(string folder, bool checksums, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        CheckpointManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllBytes(path), Options); }
        catch (JsonException e) { return $"{FileName} is not valid JSON ({e.Message})"; }
        if (manifest is null || manifest.Format != FormatName || manifest.Files is null)
            return $"{FileName} is not a SeekSharp checkpoint manifest";
        if (manifest.Version != CurrentVersion)
            return $"{FileName} is version {manifest.Version}; this SeekSharp reads version {CurrentVersion}";
        foreach (var e in manifest.Files)
        {
            if (e is null || string.IsNullOrEmpty(e.Name) || e.Name != Path.GetFileName(e.Name) || e.Name is "." or "..")
                return $"{FileName} lists a file name that is not a plain name in the folder";
            var file = Path.Combine(folder, e.Name);
            if (!File.Exists(file)) return $"{e.Name} is missing";
            long size = new FileInfo(file).Length;
            if (size != e.Size) return $"{e.Name} has {size:N0} bytes, the manifest says {e.Size:N0}";
        }
        if (!checksums) return null;
        foreach (var e in manifest.Files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string actual;
            try { actual = Sha256Of(Path.Combine(folder, e.Name)); }
            catch (IOException x) { return $"{e.Name} cannot be read ({x.Message})"; }
            if (!string.Equals(actual, e.Sha256, StringComparison.OrdinalIgnoreCase)) return $"{e.Name}'s SHA-256 is {actual}, the manifest says {e.Sha256}";
        }
        return null;
    }

    /// <summary>Throws a <see cref="CheckpointException"/> naming <paramref name="folder"/> and the problem, if <see cref="Problem"/> finds one.</summary>
    public static void Verify(string folder, bool checksums, CancellationToken cancellationToken = default)
    {
        if (Problem(folder, checksums, cancellationToken) is { } problem)
            throw new CheckpointException($"{folder} is damaged: {problem}.");
    }

    private static string Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };
}
