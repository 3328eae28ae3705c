using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace SeekSharp.Formats;

/// <summary>
/// <c>model.safetensors.index.json</c>, Hugging Face's map from tensor name to shard file:
/// <c>{"metadata": {"total_size": N}, "weight_map": {"name": "model-00001-of-00163.safetensors", ...}}</c>.
/// </summary>
internal static class SafetensorsIndex
{
    public const string FileName = "model.safetensors.index.json";

    // DeepSeek-V3's index, 91,991 names, is about 9 MB; anything past this cap is not an index.
    private const long MaxIndexBytes = 100_000_000;

    /// <summary>
    /// Reads an index and resolves each shard to a full path inside the index's folder. Shards are not opened here,
    /// but each must exist, so that a missing download is reported with the shard's name before anything is mapped.
    /// </summary>
    /// <returns>Tensor name → full shard path.</returns>
    public static Dictionary<string, string> Read(string indexPath)
    {
        var fileLength = new FileInfo(indexPath).Length;
        if (fileLength > MaxIndexBytes)
            throw Bad(indexPath, $"is {fileLength} bytes, over the {MaxIndexBytes}-byte limit for an index");
        using var document = ParseJson(indexPath, File.ReadAllBytes(indexPath));
        var root = document.RootElement;
        JsonElement map;
        try
        {
            // Looking a property up unescapes every name on the way, so a lone surrogate in any key throws here too.
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out map) || map.ValueKind != JsonValueKind.Object)
                throw Bad(indexPath, "has no \"weight_map\" object");
        }
        catch (InvalidOperationException e)
        {
            throw Bad(indexPath, $"has a key that is not valid UTF-16 once unescaped (a lone surrogate such as \\ud800): {e.Message}", e);
        }

        string folder = Path.GetDirectoryName(indexPath)!;
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var checkedShards = new Dictionary<string, string>(StringComparer.Ordinal); // as written → full path
        try
        {
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw Bad(indexPath, $"maps tensor '{entry.Name}' to a JSON {entry.Value.ValueKind}, not a file name");
                string shard = entry.Value.GetString()!;
                if (!checkedShards.TryGetValue(shard, out var fullPath))
                    checkedShards[shard] = fullPath = ResolveShard(indexPath, folder, entry.Name, shard);
                if (!weightMap.TryAdd(entry.Name, fullPath))
                    throw Bad(indexPath, $"lists tensor '{entry.Name}' twice");
            }
        }
        catch (InvalidOperationException e)
        {
            // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws this when it is read.
            throw Bad(indexPath, $"has a string that is not valid UTF-16 once unescaped (a lone surrogate such as \\ud800): {e.Message}", e);
        }
        return weightMap;
    }

    // A shard name is a path relative to the index's folder and must stay inside it: an index is data, and should
    // not be able to point the loader at an arbitrary file on the machine.
    private static string ResolveShard(string indexPath, string folder, string tensorName, string shard)
    {
        // Path.GetFullPath throws ArgumentException on a character no path may hold (NUL on Linux).
        if (shard.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            throw Bad(indexPath, $"places tensor '{tensorName}' in \"{JsonEncodedText.Encode(shard)}\", whose name holds a character no path may hold");
        string fullPath = Path.GetFullPath(Path.Combine(folder, shard));
        string relative = Path.GetRelativePath(folder, fullPath);
        if (shard.Length == 0 || Path.IsPathRooted(shard) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw Bad(indexPath, $"places tensor '{tensorName}' in \"{shard}\", which is not a file inside {folder}");
        if (!File.Exists(fullPath))
            throw Bad(indexPath, $"places tensor '{tensorName}' in shard {shard}, but {fullPath} does not exist");
        return fullPath;
    }

    /// <summary>
    /// Writes an index (keys sorted, indented like Hugging Face's) atomically. <paramref name="totalSize"/> is the sum
    /// of tensor bytes, which is what <c>metadata.total_size</c> means in Hugging Face's indexes.
    /// </summary>
    public static void Write(string indexPath, IReadOnlyDictionary<string, string> weightMap, long totalSize, CancellationToken cancellationToken)
    {
        AtomicFile.Write(indexPath, stream =>
        {
            var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            using var json = new Utf8JsonWriter(stream, options);
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalSize);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, shard) in weightMap.OrderBy(p => p.Key, StringComparer.Ordinal))
                json.WriteString(name, shard);
            json.WriteEndObject();
            json.WriteEndObject();
        }, cancellationToken);
    }

    private static JsonDocument ParseJson(string path, byte[] bytes)
    {
        if (!Utf8.IsValid(bytes))
            throw Bad(path, "is not valid UTF-8");
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"is not valid JSON ({e.Message})", e);
        }
    }

    private static CheckpointException Bad(string path, string problem, Exception? inner = null) =>
        new($"{path} {problem}", inner);
}
