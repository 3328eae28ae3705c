namespace SeekSharp.Inference;

/// <summary>
/// How the next token is chosen from the logits. Immutable; every value is checked when it is set (also through
/// <c>with</c>), so a <see cref="Sampler"/> never sees a bad one. The filters run in this order (docs/sampling.md):
/// penalties on the logits → top-k → softmax(logits / T) → top-p → min-p → renormalise → draw.
/// </summary>
/// <remarks>
/// Defaults are DeepSeek-V3's own <c>generation_config.json</c> (temperature 0.6, top-p 0.95), which is what
/// Hugging Face's <c>generate</c> uses for this model; every other filter and penalty is off, as in both HF and
/// llama.cpp. The penalty window is llama.cpp's <c>repeat_last_n</c> default (64).
/// </remarks>
public sealed record SamplingOptions
{
    /// <summary>Divides the logits before the softmax; 0 means greedy (argmax, no random number drawn).</summary>
    public float Temperature
    {
        get;
        init => field = Check(value >= 0 && float.IsFinite(value), nameof(Temperature), value, "must be finite and ≥ 0 (0 = greedy)");
    } = 0.6f;

    /// <summary>Keep only the k most likely tokens; 0 turns the filter off.</summary>
    public int TopK
    {
        get;
        init => field = Check(value >= 0, nameof(TopK), value, "must be ≥ 0 (0 = off)");
    }

    /// <summary>Nucleus: keep the smallest set of most likely tokens whose probability reaches P (1 = off).</summary>
    public float TopP
    {
        get;
        init => field = Check(value > 0 && value <= 1, nameof(TopP), value, "must be in (0, 1] (1 = off)");
    } = 0.95f;

    /// <summary>Drop tokens whose probability is below MinP × the top token's probability; 0 turns it off.</summary>
    public float MinP
    {
        get;
        init => field = Check(value >= 0 && value <= 1, nameof(MinP), value, "must be in [0, 1] (0 = off)");
    }

    /// <summary>
    /// CTRL-style penalty θ for each distinct token in the window: a positive logit is divided by θ, a negative one
    /// multiplied, so θ &gt; 1 always makes a seen token less likely. 1 turns it off.
    /// </summary>
    public float RepetitionPenalty
    {
        get;
        init => field = Check(value > 0 && float.IsFinite(value), nameof(RepetitionPenalty), value, "must be finite and > 0 (1 = off)");
    } = 1;

    /// <summary>OpenAI-style: subtracted once from the logit of every token present in the window.</summary>
    public float PresencePenalty
    {
        get;
        init => field = Check(float.IsFinite(value), nameof(PresencePenalty), value, "must be finite (0 = off)");
    }

    /// <summary>OpenAI-style: subtracted from a token's logit once per occurrence in the window.</summary>
    public float FrequencyPenalty
    {
        get;
        init => field = Check(float.IsFinite(value), nameof(FrequencyPenalty), value, "must be finite (0 = off)");
    }

    /// <summary>
    /// How many of the most recent history tokens the three penalties look at (llama.cpp's <c>repeat_last_n</c>);
    /// 0 turns the penalties off, <see cref="int.MaxValue"/> uses the whole history.
    /// </summary>
    public int PenaltyWindow
    {
        get;
        init => field = Check(value >= 0, nameof(PenaltyWindow), value, "must be ≥ 0 (0 = off)");
    } = 64;

    /// <summary>Seed of the sampler's generator; null draws one (read it back from <see cref="Sampler.Seed"/>).</summary>
    public ulong? Seed { get; init; }

    /// <summary>Argmax of the (penalised) logits, ties to the lowest id; deterministic whatever the seed.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    public bool IsGreedy => Temperature == 0;

    /// <summary>True when any penalty would change a logit.</summary>
    public bool HasPenalties => PenaltyWindow > 0 && (RepetitionPenalty != 1 || PresencePenalty != 0 || FrequencyPenalty != 0);

    private static T Check<T>(bool ok, string name, T value, string rule) =>
        ok ? value : throw new InvalidInputException($"Sampling option {name} = {value} {rule}.");
}
