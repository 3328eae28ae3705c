using System.Text.Json.Serialization;

namespace SeekSharp.Model;

/// <summary>
/// The <c>quantization_config</c> of DeepSeek's FP8 release (architecture.md §14), or of a SeekSharp block-quantised checkpoint
/// (<c>quant_method</c> "seeksharp", <c>weight_type</c> q8_0 or q4_0).
/// </summary>
public sealed record QuantizationConfig
{
    [JsonPropertyName("quant_method")] public string? QuantMethod { get; init; }
    [JsonPropertyName("fmt")] public string? Fmt { get; init; }
    [JsonPropertyName("activation_scheme")] public string? ActivationScheme { get; init; }
    [JsonPropertyName("weight_block_size")] public int[]? WeightBlockSize { get; init; }
    [JsonPropertyName("scale_fmt")] public string? ScaleFmt { get; init; }
    [JsonPropertyName("weight_type")] public string? WeightType { get; init; }
}
