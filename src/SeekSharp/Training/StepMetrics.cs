using System.Text.Json.Serialization;

namespace SeekSharp.Training;

/// <summary>One line of a run's metrics.jsonl: what happened at one optimiser step (a skipped step's NaN or infinite loss is written "NaN", "Infinity").</summary>
[JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)]
public sealed record StepMetrics
{
    [JsonPropertyName("step")] public long Step { get; init; }
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    [JsonPropertyName("loss")] public double Loss { get; init; }
    [JsonPropertyName("loss_main")] public double LossMain { get; init; }
    [JsonPropertyName("loss_mtp")] public double LossMtp { get; init; }
    [JsonPropertyName("loss_balance")] public double LossBalance { get; init; }
    [JsonPropertyName("lr")] public double LearningRate { get; init; }
    [JsonPropertyName("grad_norm")] public double GradNorm { get; init; }
    [JsonPropertyName("tokens_per_second")] public double TokensPerSecond { get; init; }
    /// <summary>Model FLOPs utilisation, in [0, 1]: against max(this machine's measured float32 GEMM peak, the best step's rate) (<see cref="MfuMeter"/>, docs/training.md).</summary>
    [JsonPropertyName("mfu")] public double Mfu { get; init; }
    [JsonPropertyName("elapsed_s")] public double ElapsedSeconds { get; init; }
    /// <summary>Per MoE layer (main, then MTP): (max load − mean) / mean this step.</summary>
    [JsonPropertyName("max_vio")] public double[] MaxVio { get; init; } = [];
    [JsonPropertyName("moe_layers")] public int[] MoeLayers { get; init; } = [];
    /// <summary>Per MoE layer, each expert's share of this step's routed tokens (sums to 1).</summary>
    [JsonPropertyName("expert_load")] public double[][] ExpertLoad { get; init; } = [];
    [JsonPropertyName("val_loss")] public double? ValLoss { get; init; }
    [JsonPropertyName("val_loss_main")] public double? ValLossMain { get; init; }
    [JsonPropertyName("val_loss_mtp")] public double? ValLossMtp { get; init; }
    /// <summary>Set when the step was skipped for a NaN or infinity (<see cref="NonFinitePolicy.Skip"/>): what was not finite.</summary>
    [JsonPropertyName("skipped"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Skipped { get; init; }
}
