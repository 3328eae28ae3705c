using SeekSharp.Model;

namespace SeekSharp.Training;

/// <summary>
/// Counts the matmul FLOPs of DeepSeek-V3's forward pass per token, one term per weight the model multiplies by
/// (docs/architecture.md §4, §6–§9), with x·W for W [in, out] costing 2·in·out per token. The shapes are those of
/// <see cref="CheckpointLayout"/>; a test checks the linear terms against it.
/// </summary>
/// <remarks>
/// Per decoder layer, with d hidden, n_h heads, head dims d_n, d_r, d_v, d_qk = d_n + d_r, latent d_c, query rank d_q':
/// <list type="bullet">
/// <item>q: 2·d·d_q' + 2·d_q'·n_h·d_qk (q LoRA), or 2·d·n_h·d_qk (plain q_proj)</item>
/// <item>kv_a_proj_with_mqa: 2·d·(d_c + d_r); kv_b_proj: 2·d_c·n_h·(d_n + d_v); o_proj: 2·n_h·d_v·d</item>
/// <item>scores: 2·n_h·d_qk·K for Q·Kᵀ and 2·n_h·d_v·K for P·V, K the number of keys a query sees
/// (see <see cref="AttentionSpan"/>)</item>
/// <item>dense FFN: 3 · 2·d·I (gate, up, down); MoE: 3 · 2·d·I_e per activated expert, (K_r + N_s) of them,
/// plus the router 2·d·N_r</item>
/// </list>
/// Once per token: the head 2·d·V. An MTP module k (1-based) adds eh_proj 2·2d·d, its decoder block and the head,
/// but only on the T − k positions that have a token k steps ahead (architecture.md §9.1), attending over a sequence of T − k.
/// </remarks>
public static class FlopCounter
{
    /// <summary>DeepSeek-V3's pre-training sequence length (docs/architecture.md §16).</summary>
    public const int PretrainingSequenceLength = 4096;

    /// <summary>
    /// Forward FLOPs per token when training on packed sequences of <paramref name="sequenceLength"/> tokens:
    /// the main model plus every MTP module. Also the prefill cost of inference (use <see cref="TokenFlops.Main"/>:
    /// plain generation does not run the MTP modules).
    /// </summary>
    public static TokenFlops Forward(ModelConfig c, int sequenceLength = PretrainingSequenceLength, AttentionSpan span = AttentionSpan.Causal)
    {
        if (sequenceLength <= 0) throw new InvalidInputException($"The sequence length must be positive, got {sequenceLength}.");
        double keys = AverageKeys(sequenceLength, span);
        var main = FlopsBreakdown.Zero;
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
            main = main.Plus(Layer(c, layer, keys));
        main = main with { Head = Head(c) };

        var mtp = FlopsBreakdown.Zero;
        for (int k = 1; k <= c.MtpDepth; k++)
        {
            int positions = sequenceLength - k;     // module k predicts t_{i+k+1}: no input token past the end
            if (positions <= 0) break;
            var module = Layer(c, c.NumHiddenLayers + k - 1, AverageKeys(positions, span))
                with
            { Head = Head(c), EhProjection = 2.0 * (2.0 * c.HiddenSize) * c.HiddenSize };
            mtp = mtp.Plus(module.Times((double)positions / sequenceLength));
        }
        return new TokenFlops(main, mtp);
    }

    /// <summary>
    /// Forward FLOPs of generating one token when <paramref name="context"/> positions (this one included) are cached:
    /// the main model only. <see cref="MlaForm.Naive"/> assumes per-head keys and values are cached (the token's own
    /// latent goes through kv_b_proj once); <see cref="MlaForm.Absorbed"/> caches the latent, costing
    /// 2·n_h·d_n·d_c (W^UK into the query) + 2·n_h·d_c·d_v (W^UV out of it), which is exactly kv_b_proj's cost, and
    /// scores 2·n_h·(d_c + d_r)·S + 2·n_h·d_c·S instead of 2·n_h·(d_qk + d_v)·S: more FLOPs, far fewer bytes read.
    /// </summary>
    public static FlopsBreakdown DecodeStep(ModelConfig c, int context, MlaForm form)
    {
        if (context <= 0) throw new InvalidInputException($"The context length must be positive, got {context}.");
        var main = FlopsBreakdown.Zero;
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            var l = Layer(c, layer, context);
            if (form == MlaForm.Absorbed) l = l with { AttentionScores = AbsorbedScores(c, context) };
            main = main.Plus(l);
        }
        return main with { Head = Head(c) };
    }

    /// <summary>Keys a query sees on average in a sequence of <paramref name="t"/>: (t + 1)/2 causal, t full.</summary>
    public static double AverageKeys(int t, AttentionSpan span) => span == AttentionSpan.Causal ? (t + 1) / 2.0 : t;

    /// <summary>One decoder layer (main or MTP) for a query that sees <paramref name="keys"/> keys; head and eh_proj zero.</summary>
    public static FlopsBreakdown Layer(ModelConfig c, int layer, double keys)
    {
        double d = c.HiddenSize;
        bool moe = c.IsMoeLayer(layer);
        double experts = moe ? c.NumExpertsPerTok!.Value + (c.NSharedExperts ?? 0) : 0;
        return new FlopsBreakdown(
            AttentionProjections: AttentionProjections(c),
            AttentionScores: NaiveScores(c, keys),
            DenseFfn: moe ? 0 : 3 * 2 * d * c.IntermediateSize,
            MoeExperts: 3 * 2 * d * c.MoeIntermediateSize * experts,
            Router: moe ? 2 * d * c.NRoutedExperts!.Value : 0,
            Head: 0,
            EhProjection: 0);
    }

    /// <summary>q, kv_a, kv_b and o projections of one token in one layer.</summary>
    public static double AttentionProjections(ModelConfig c)
    {
        double d = c.HiddenSize, nh = c.NumAttentionHeads, dqk = c.QkHeadDim, dc = c.KvLoraRank;
        double q = c.HasQLora
            ? 2 * d * c.QLoraRank!.Value + 2.0 * c.QLoraRank!.Value * nh * dqk   // q_a_proj, q_b_proj
            : 2 * d * nh * dqk;                                                   // q_proj
        double kvA = 2 * d * (dc + c.QkRopeHeadDim);
        double kvB = 2 * dc * nh * (c.QkNopeHeadDim + c.VHeadDim);
        double o = 2 * nh * c.VHeadDim * d;
        return q + kvA + kvB + o;
    }

    /// <summary>Q·Kᵀ over d_qk and P·V over d_v, per head, for a query that sees <paramref name="keys"/> keys.</summary>
    public static double NaiveScores(ModelConfig c, double keys) =>
        2.0 * c.NumAttentionHeads * (c.QkHeadDim + c.VHeadDim) * keys;

    /// <summary>Absorbed form: scores against [c; k^R] (d_c + d_r) and the weighted sum of latents (d_c), per head.</summary>
    public static double AbsorbedScores(ModelConfig c, double keys) =>
        2.0 * c.NumAttentionHeads * (2 * c.KvLoraRank + c.QkRopeHeadDim) * keys;

    /// <summary>The output head over the config's vocab_size rows (padding rows included: they are multiplied too).</summary>
    public static double Head(ModelConfig c) => 2.0 * c.HiddenSize * c.VocabSize;
}
