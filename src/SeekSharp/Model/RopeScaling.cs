using System.Text.Json.Serialization;

namespace SeekSharp.Model;

/// <summary>The <c>rope_scaling</c> block of config.json (docs/architecture.md §5). DeepSeek uses YaRN.</summary>
public sealed record RopeScaling
{
    /// <summary>"yarn" (older configs spell the key <c>type</c>, newer <c>rope_type</c>).</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }
    [JsonPropertyName("factor")] public double Factor { get; init; } = 1;
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositionEmbeddings { get; init; } = 4096;
    [JsonPropertyName("beta_fast")] public double BetaFast { get; init; } = 32;
    [JsonPropertyName("beta_slow")] public double BetaSlow { get; init; } = 1;
    [JsonPropertyName("mscale")] public double? Mscale { get; init; }
    [JsonPropertyName("mscale_all_dim")] public double? MscaleAllDim { get; init; }

    /// <summary>Hugging Face's <c>truncate</c> (default true): floor/ceil the correction range.</summary>
    [JsonPropertyName("truncate")] public bool? Truncate { get; init; }

    [JsonIgnore] public string Kind => (RopeType ?? Type ?? "default").ToLowerInvariant();
}
