using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// One pre-norm block (docs/architecture.md §2): u = h + MLA(RMSNorm_attn(h)); h' = u + FFN(RMSNorm_ffn(u)), where the FFN is the
/// dense SwiGLU for the first layers and the MoE after.
/// </summary>
public sealed class DecoderLayer
{
    private readonly string _dump;   // "layers.ℓ." or "mtp.k.": the scope of this layer's activation names

    public int Index { get; }
    public RmsNormLayer InputNorm { get; }
    public Mla Attention { get; }
    public RmsNormLayer PostAttentionNorm { get; }
    public Mlp? Dense { get; }
    public Moe? Moe { get; }

    public DecoderLayer(ModelConfig c, Rope rope, Func<string, Parameter> p, int index)
    {
        Index = index;
        _dump = ActivationNames.Layer(c, index);
        string pre = CheckpointLayout.LayerPrefix(index);
        float eps = (float)c.RmsNormEps;
        InputNorm = new RmsNormLayer(p(pre + CheckpointLayout.InputNorm), eps);
        Attention = new Mla(c, rope, p, pre);
        PostAttentionNorm = new RmsNormLayer(p(pre + CheckpointLayout.PostAttentionNorm), eps);
        if (c.IsMoeLayer(index)) Moe = new Moe(c, p, pre);
        else Dense = Mlp.FromLayer(p, pre, CheckpointLayout.DenseGate, CheckpointLayout.DenseUp, CheckpointLayout.DenseDown);
    }

    /// <summary>Per-layer state of one forward: routing always, everything else only when training.</summary>
    public sealed class Activations
    {
        public Tensor HIn;          // [n, d] layer input (residual stream)
        public Tensor Xn;           // [n, d] RMSNorm_attn(h)
        public float[] Rstd1 = Array.Empty<float>();
        public readonly Mla.Activations Attention = new();
        public Tensor U;            // [n, d] h + attention
        public Tensor Un;           // [n, d] RMSNorm_ffn(u)
        public float[] Rstd2 = Array.Empty<float>();
        public readonly Mlp.Activations Dense = new();
        public readonly Moe.Activations Moe = new();
    }

    /// <summary>Runs the block on h [n, d] in place; cached segments of <paramref name="batch"/> use layer <paramref name="cacheLayer"/> of their caches.</summary>
    public void Forward(ForwardContext ctx, Tensor h, RaggedBatch batch, Activations state, int cacheLayer = 0)
    {
        var arena = ctx.Arena;
        bool save = ctx.SaveActivations;
        int n = h.Rows, d = h.Cols;
        if (save)
        {
            state.HIn = arena.AllocateUninitialized(h.Shape);
            h.CopyTo(state.HIn);
            state.Rstd1 = new float[n];
            state.Rstd2 = new float[n];
        }
        var xn = arena.AllocateUninitialized(new TensorShape(n, d));       // [n, d]
        InputNorm.Forward(h, xn, save ? state.Rstd1 : default);
        ctx.Dump?.Record(_dump, "input_norm", xn);
        var attn = arena.AllocateUninitialized(new TensorShape(n, d));     // [n, d]
        Attention.Forward(ctx, xn, attn, batch, save ? state.Attention : null, cacheLayer);
        VectorOps.Add(attn.Span, h.Span);                                  // u = h + MLA(·)
        ctx.Dump?.Record(_dump, "residual", h);
        if (save)
        {
            state.Xn = xn;
            state.U = arena.AllocateUninitialized(h.Shape);
            h.CopyTo(state.U);
        }
        var un = arena.AllocateUninitialized(new TensorShape(n, d));       // [n, d]
        PostAttentionNorm.Forward(h, un, save ? state.Rstd2 : default);
        ctx.Dump?.Record(_dump, "post_attention_norm", un);
        var ffn = attn;                                                    // reuse: [n, d]
        if (Moe is not null) Moe.Forward(ctx, un, ffn, state.Moe, save);
        else Dense!.Forward(ctx, un, ffn, act: save ? state.Dense : null);
        ctx.Dump?.Record(_dump, "ffn.out", ffn);
        VectorOps.Add(ffn.Span, h.Span);                                   // h' = u + FFN(·)
        ctx.Dump?.Record(_dump, "out", h);
        if (save) state.Un = un;
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: on entry <paramref name="dh"/> [n, d] is ∂L/∂(layer output); on return it is
    /// ∂L/∂(layer input). <paramref name="balance"/> is the balance loss's per-sequence ∂L/∂s̄ for an MoE layer.
    /// </summary>
    public void Backward(ForwardContext ctx, Activations state, Tensor dh, ReadOnlySpan<float> balance = default)
    {
        int n = dh.Rows, d = dh.Cols;
        var dun = ctx.Arena.AllocateUninitialized(new TensorShape(n, d));   // ∂L/∂RMSNorm_ffn(u)
        if (Moe is not null) Moe.Backward(ctx, state.Moe, dh, dun, balance, state.Attention.Batch.SeqLen, accumulate: false);
        else Dense!.Backward(ctx, state.Dense, dh, dun, accumulate: false);
        PostAttentionNorm.Backward(state.U, state.Rstd2, dun, dh, accumulate: true);     // dh = ∂L/∂u
        var dxn = ctx.Arena.AllocateUninitialized(new TensorShape(n, d));   // ∂L/∂RMSNorm_attn(h)
        Attention.Backward(ctx, state.Attention, dh, dxn, accumulate: false);
        InputNorm.Backward(state.HIn, state.Rstd1, dxn, dh, accumulate: true);           // dh = ∂L/∂h_in
    }
}
