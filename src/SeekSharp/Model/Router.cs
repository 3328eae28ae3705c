using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// The MoE gate (docs/architecture.md §7): affinities s = sigmoid or softmax of W_g·u; selection on s + b (the bias only ever
/// chooses), limited to the best groups; gating weights from the unbiased s, normalised when norm_topk_prob and
/// scaled by routed_scaling_factor.
/// </summary>
public sealed class Router
{
    private readonly ModelConfig _c;
    private readonly string _dump;   // "layers.ℓ.ffn.router.": the scope of the routing's activation names

    public Parameter Weight { get; }
    /// <summary>e_score_correction_bias [n_routed_experts], float32; present for topk_method noaux_tc.</summary>
    public Parameter? Bias { get; }
    public int Experts { get; }
    public int ExpertsPerToken { get; }

    public Router(ModelConfig c, Func<string, Parameter> p, string prefix)
    {
        _c = c;
        Weight = p(prefix + CheckpointLayout.Router);
        Bias = c.HasExpertBias ? p(prefix + CheckpointLayout.RouterBias) : null;
        Experts = c.NRoutedExperts!.Value;
        ExpertsPerToken = c.NumExpertsPerTok!.Value;
        _dump = ActivationNames.LayerOf(c, prefix) + ActivationNames.Router;
    }

    /// <summary>The routing of n tokens.</summary>
    public sealed class Routing
    {
        public Tensor Logits;     // [n, N_r] W_g·u
        public Tensor Scores;     // [n, N_r] affinities s (before bias)
        public int[] Indices = Array.Empty<int>();      // [n, K] chosen experts, by descending biased score
        public float[] Weights = Array.Empty<float>();  // [n, K] gating weights g
        public int Tokens;
    }

    /// <summary>Routes the n rows of u [n, d]; the result's arrays are reused between calls of the same <paramref name="routing"/>.</summary>
    public void Route(ForwardContext ctx, Tensor u, Routing routing)
    {
        int n = u.Rows, e = Experts, k = ExpertsPerToken;
        var logits = ctx.Arena.AllocateUninitialized(new TensorShape(n, e));  // [n, N_r]
        var scores = ctx.Arena.AllocateUninitialized(new TensorShape(n, e));  // [n, N_r]
        Linear.Forward(ctx.Pool, u, Weight, logits);
        if (routing.Indices.Length < n * k)
        {
            routing.Indices = new int[n * k];
            routing.Weights = new float[n * k];
        }
        routing.Logits = logits;
        routing.Scores = scores;
        routing.Tokens = n;
        Span<float> selection = stackalloc float[e];
        Span<float> groupScores = stackalloc float[_c.ExpertGroups];
        Span<int> groupOrder = stackalloc int[_c.ExpertGroups];
        for (int t = 0; t < n; t++)
        {
            var s = scores.Row(t);
            if (_c.ScoringFunc == ScoringFunction.Sigmoid) Activations.Sigmoid(logits.Row(t), s);
            else Softmax.Forward(logits.Row(t), s);
            Select(s, selection, groupScores, groupOrder, routing.Indices.AsSpan(t * k, k), routing.Weights.AsSpan(t * k, k));
        }
        ctx.Dump?.Record(_dump, "logits", logits);
        ctx.Dump?.Record(_dump, "scores", scores);
        ctx.Dump?.Record(_dump, "indices", routing.Indices.AsSpan(0, n * k), k);
        ctx.Dump?.Record(_dump, "weights", new Tensor(routing.Weights, new TensorShape(n, k)));
    }

    private void Select(ReadOnlySpan<float> s, Span<float> selection, Span<float> groupScores, Span<int> groupOrder, Span<int> chosen, Span<float> weights)
    {
        s.CopyTo(selection);
        if (Bias is not null) VectorOps.Add(Bias.Span, selection);             // s' = s + b: selection only
        int groups = _c.ExpertGroups;
        if (groups > 1 && _c.TopkMethod != TopKMethod.Greedy)
        {
            int per = Experts / groups, keep = _c.TopkGroup ?? groups;
            for (int g = 0; g < groups; g++)
                groupScores[g] = _c.TopkMethod == TopKMethod.NoAuxTc ? TopTwoSum(selection.Slice(g * per, per)) : Max(selection.Slice(g * per, per));
            TopK.Select(groupScores, keep, groupOrder);
            for (int g = 0; g < groups; g++)
                if (groupOrder[..keep].IndexOf(g) < 0) selection.Slice(g * per, per).Fill(float.NegativeInfinity);
        }
        TopK.Select(selection, ExpertsPerToken, chosen);
        float sum = 0;
        for (int i = 0; i < chosen.Length; i++) sum += weights[i] = s[chosen[i]];   // g_i from the unbiased s
        float scale = (float)_c.RoutedScalingFactor;
        if (_c.NormTopkProb) scale /= sum + 1e-20f;
        for (int i = 0; i < chosen.Length; i++) weights[i] *= scale;
    }

    /// <summary>
    /// Backward through the gate. <paramref name="dWeights"/> [n·K] is ∂L/∂g for the chosen experts' gating weights;
    /// <paramref name="balance"/>, when given, is ∂L/∂s̄ for the balance loss's renormalised affinities
    /// s̄_i = s_i / Σ_j s_j, one row per sequence ([B, N_r], every token of sequence b gets row b).
    /// The top-k choice and the bias get no gradient (docs/architecture.md §10.1). Accumulates ∂L/∂W_g and adds ∂L/∂u into du.
    /// </summary>
    public void Backward(ForwardContext ctx, Routing routing, Tensor u, ReadOnlySpan<float> dWeights,
        ReadOnlySpan<float> balance, int seqLen, Tensor du)
    {
        int n = routing.Tokens, e = Experts, k = ExpertsPerToken;
        var da = ctx.Arena.AllocateUninitialized(new TensorShape(n, e));       // [n, N_r] ∂L/∂logits
        Span<float> ds = stackalloc float[e];
        float scale = (float)_c.RoutedScalingFactor;
        for (int t = 0; t < n; t++)
        {
            var s = routing.Scores.Row(t);
            ds.Clear();
            var chosen = routing.Indices.AsSpan(t * k, k);
            var dw = dWeights.Slice(t * k, k);
            if (_c.NormTopkProb)
            {
                // g_i = c·s_i / S, S = Σ_chosen s + ε:  ∂L/∂s_j = c/S · (dg_j − Σ_i dg_i·s_i / S)
                float sum = 1e-20f, dot = 0;
                for (int i = 0; i < k; i++) { sum += s[chosen[i]]; dot += dw[i] * s[chosen[i]]; }
                for (int i = 0; i < k; i++) ds[chosen[i]] += scale / sum * (dw[i] - dot / sum);
            }
            else
                for (int i = 0; i < k; i++) ds[chosen[i]] += scale * dw[i];
            if (!balance.IsEmpty)
            {
                // s̄ = s / Σ s:  ∂L/∂s_j = (∂L/∂s̄_j − Σ_i ∂L/∂s̄_i · s̄_i) / Σ s
                var db = balance.Slice(t / seqLen * e, e);
                float total = 0, dot = 0;
                for (int j = 0; j < e; j++) total += s[j];
                for (int j = 0; j < e; j++) dot += db[j] * s[j];
                dot /= total;
                for (int j = 0; j < e; j++) ds[j] += (db[j] - dot) / total;
            }
            var dar = da.Row(t);
            if (_c.ScoringFunc == ScoringFunction.Sigmoid)
                for (int j = 0; j < e; j++) dar[j] = ds[j] * s[j] * (1 - s[j]);
            else
            {
                float dot = VectorOps.Dot(s, ds);
                for (int j = 0; j < e; j++) dar[j] = s[j] * (ds[j] - dot);
            }
        }
        Linear.BackwardWeight(ctx.Pool, n, da.Span, e, u.Span, u.Cols, Weight);
        Linear.BackwardInput(ctx.Pool, n, da.Span, e, Weight, du.Span, u.Cols, accumulate: true);
    }

    private static float TopTwoSum(ReadOnlySpan<float> x)
    {
        if (x.Length == 1) return x[0];
        float a = float.NegativeInfinity, b = float.NegativeInfinity;
        foreach (var v in x)
        {
            if (v > a) { b = a; a = v; }
            else if (v > b) b = v;
        }
        return a + b;
    }

    private static float Max(ReadOnlySpan<float> x)
    {
        float m = float.NegativeInfinity;
        foreach (var v in x) if (v > m) m = v;
        return m;
    }
}
