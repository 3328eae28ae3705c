using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Model;

/// <summary>
/// Block-quantises a model's weights for inference: every projection, expert and head, and the embedding; the
/// router (expert choices are sensitive to small changes), kv_b_proj (the absorbed attention multiplies by its
/// per-head blocks both ways), norms and biases stay as they are.
/// </summary>
public static class ModelQuantizer
{
    public const string QuantMethod = "seeksharp";

    public static bool IsQuantizable(ParameterSpec p) =>
        p.Role is ParameterRole.Matrix or ParameterRole.Embedding
        && !p.Name.EndsWith(CheckpointLayout.KvBProj, StringComparison.Ordinal)
        && !p.Name.EndsWith(CheckpointLayout.Router, StringComparison.Ordinal);

    public static void Quantize(DeepSeekModel model, QuantType type, WorkerPool? pool = null)
    {
        foreach (var p in model.Parameters)
            if (IsQuantizable(p.Spec)) p.Quantize(type, pool);
    }

    /// <summary>The quantization_config a quantised checkpoint's config.json carries.</summary>
    public static QuantizationConfig ConfigFor(QuantType type) => new() { QuantMethod = QuantMethod, WeightType = Name(type) };

    public static string Name(QuantType type) => type.ToString().ToLowerInvariant();

    public static QuantType Parse(string name) => name.ToLowerInvariant() switch
    {
        "q8_0" or "q8" => QuantType.Q8_0,
        "q4_0" or "q4" => QuantType.Q4_0,
        _ => throw new ConfigException($"Unknown quantisation type '{name}' (q8_0 or q4_0)."),
    };
}
