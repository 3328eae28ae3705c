using System.Reflection;

namespace SeekSharp.Model;

/// <summary>
/// Named configs: DeepSeek's releases (<c>deepseek-v3</c> 671B, <c>deepseek-v2-lite</c> 16B) and small ones for tests
/// and benchmarks (<c>tiny</c>: the golden cases' shape; <c>train-36m</c>, <c>inference-800m</c>: the benchmark models).
/// </summary>
public static class Presets
{
    private const string Prefix = "SeekSharp.Model.Presets.";

    public static IReadOnlyList<string> Names { get; } = typeof(Presets).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..^".json".Length])
        .Order(StringComparer.Ordinal)
        .ToArray();

    public static ModelConfig Get(string name)
    {
        using var stream = typeof(Presets).Assembly.GetManifestResourceStream(Prefix + name + ".json")
            ?? throw new ConfigException($"Unknown preset '{name}'. Known presets: {string.Join(", ", Names)}.");
        using var reader = new StreamReader(stream);
        return ModelConfig.Parse(reader.ReadToEnd(), $"preset {name}");
    }
}
