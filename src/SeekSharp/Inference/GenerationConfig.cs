using System.Text.Json;

namespace SeekSharp.Inference;

/// <summary>
/// A model folder's <c>generation_config.json</c> (Hugging Face's format): the sampling defaults the model was shipped
/// with. Fields that are absent stay null and the caller's defaults apply; <c>do_sample: false</c> means greedy.
/// </summary>
public sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? RepetitionPenalty { get; init; }
    public int? MaxNewTokens { get; init; }

    /// <summary>The folder's generation_config.json, or null when it has none.</summary>
    /// <exception cref="InvalidInputException">The file exists but is not valid JSON of the expected shape.</exception>
    public static GenerationConfig? Load(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{path}: expected a JSON object.");
            bool greedy = root.TryGetProperty("do_sample", out var ds) && ds.ValueKind == JsonValueKind.False;
            return new GenerationConfig
            {
                Temperature = greedy ? 0 : Float(root, "temperature", path),
                TopP = Float(root, "top_p", path),
                TopK = Int(root, "top_k", path),
                RepetitionPenalty = Float(root, "repetition_penalty", path),
                MaxNewTokens = Int(root, "max_new_tokens", path),
            };
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON: {e.Message}", e);
        }
    }

    private static float? Float(JsonElement root, string name, string path) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number ? v.GetSingle()
        : throw new InvalidInputException($"{path}: \"{name}\" must be a number.");

    private static int? Int(JsonElement root, string name, string path) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw new InvalidInputException($"{path}: \"{name}\" must be an integer.");
}
