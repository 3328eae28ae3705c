namespace SeekSharp.Inference;

/// <summary>
/// The repetition, presence and frequency penalties, applied to the logits of the tokens in the penalty window.
/// For a token seen c &gt; 0 times in the window, with θ the repetition penalty, α_p presence and α_f frequency:
/// <code>
///   l' = l / θ  if l &gt; 0,  l · θ  otherwise        (CTRL, Keskar et al. 2019; HF RepetitionPenaltyLogitsProcessor)
///   l'' = l' − c · α_f − α_p                         (OpenAI's frequency and presence penalties)
/// </code>
/// in that order, as llama.cpp and vLLM do. Each distinct token is penalised once, however often it occurs.
/// </summary>
internal static class Penalties
{
    /// <summary>
    /// Penalises <paramref name="logits"/> in place for the tokens of <paramref name="window"/>. Ids at or past
    /// <c>logits.Length</c> (padding rows, never sampled anyway) are skipped. <paramref name="counts"/> is scratch of
    /// at least <c>logits.Length</c> zeros, and is left all zero again.
    /// </summary>
    public static void Apply(Span<float> logits, ReadOnlySpan<int> window, SamplingOptions options, Span<int> counts)
    {
        foreach (int id in window)
            if ((uint)id < (uint)logits.Length) counts[id]++;
        float theta = options.RepetitionPenalty, presence = options.PresencePenalty, frequency = options.FrequencyPenalty;
        foreach (int id in window)
        {
            if ((uint)id >= (uint)logits.Length) continue;
            int c = counts[id];
            if (c == 0) continue;                 // a later occurrence of a token already penalised
            counts[id] = 0;
            float l = logits[id];
            if (!float.IsFinite(l)) continue;      // −∞ (masked) stays; +∞ does not reach here (forced tokens become 0 or −∞)
            l = l > 0 ? l / theta : l * theta;
            // A huge logit must not overflow to ±∞ under a penalty: it saturates at float's range, still a candidate.
            logits[id] = Math.Clamp(l - (c * frequency + presence), float.MinValue, float.MaxValue);
        }
    }
}
