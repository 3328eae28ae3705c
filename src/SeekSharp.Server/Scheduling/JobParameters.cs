using SeekSharp.Inference;
using SeekSharp.Inference.Structured;

namespace SeekSharp.Server.Scheduling;

/// <summary>How one request's reply is generated: its limit, sampling, stop strings and log-probabilities.</summary>
public sealed record JobParameters
{
    /// <summary>Most tokens to generate (≥ 1; the prompt plus this fits the context).</summary>
    public required int MaxTokens { get; init; }

    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;

    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Generate past the end-of-sequence token, up to <see cref="MaxTokens"/> (benchmarks: replies of a fixed length).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Null: no log-probabilities; n ≥ 0: each generated token's, with its n most likely alternatives.</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>Structured output: the reply is a JSON text of this grammar, sampled token by token within it; null: free text.</summary>
    public JsonGrammar? Json { get; init; }
}
