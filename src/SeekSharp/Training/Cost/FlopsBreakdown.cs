namespace SeekSharp.Training;

/// <summary>
/// FLOPs of one token, by kind of matrix multiplication. A matmul of a [1, in] row by an [in, out] weight costs
/// 2·in·out FLOPs (one multiply and one add per weight), so every entry is a sum of such terms. Only matmuls are
/// counted: RMSNorm, RoPE, softmax, SiLU, the gating multiply and the residual adds are elementwise, a few FLOPs per
/// value against thousands per value in the matmuls (under 0.1% for DeepSeek-V3).
/// </summary>
/// <param name="AttentionProjections">MLA's weight matmuls: q (q_proj, or q_a_proj then q_b_proj), kv_a_proj_with_mqa, kv_b_proj, o_proj.</param>
/// <param name="AttentionScores">The two activation-by-activation matmuls of attention: Q·Kᵀ (head dim d_n + d_r) and P·V (d_v). They scale with the number of keys a query sees.</param>
/// <param name="DenseFfn">The SwiGLU MLP of the leading dense layers: gate, up and down.</param>
/// <param name="MoeExperts">The experts a token is routed to (num_experts_per_tok of them) plus the shared experts; the other routed experts cost nothing.</param>
/// <param name="Router">The gate logits W_g·u over all routed experts (the top-k and the weighting are elementwise).</param>
/// <param name="Head">The output head over the whole (padded) vocabulary. The embedding is a row lookup and costs no FLOPs.</param>
/// <param name="EhProjection">An MTP module's eh_proj, [d, 2d] (zero for the main model).</param>
public sealed record FlopsBreakdown(
    double AttentionProjections,
    double AttentionScores,
    double DenseFfn,
    double MoeExperts,
    double Router,
    double Head,
    double EhProjection)
{
    public static FlopsBreakdown Zero { get; } = new(0, 0, 0, 0, 0, 0, 0);

    public double Total => AttentionProjections + AttentionScores + DenseFfn + MoeExperts + Router + Head + EhProjection;

    /// <summary>The matmuls DeepSeek-V3 runs in FP8 (architecture.md §16): the decoder blocks' projections and FFNs. Attention
    /// scores, the router, the head and eh_proj stay in BF16.</summary>
    public double Fp8Eligible => AttentionProjections + DenseFfn + MoeExperts;

    public FlopsBreakdown Plus(FlopsBreakdown o) => new(
        AttentionProjections + o.AttentionProjections, AttentionScores + o.AttentionScores, DenseFfn + o.DenseFfn,
        MoeExperts + o.MoeExperts, Router + o.Router, Head + o.Head, EhProjection + o.EhProjection);

    public FlopsBreakdown Times(double k) => new(
        AttentionProjections * k, AttentionScores * k, DenseFfn * k, MoeExperts * k, Router * k, Head * k, EhProjection * k);
}
