using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// Multi-Token Prediction module k (architecture.md §9): h' = eh_proj([enorm(Emb(t_{i+k+1})) ; hnorm(h_i)]) (embedding first, as
/// DeepSeek's released weights expect), one full decoder block over the shortened sequence, then
/// shared_head.norm and the head. The embedding and head are the main model's (shared) unless a checkpoint's copies differ.
/// </summary>
/// <remarks>
/// h_i for module 0 is the main model's hidden state after the final norm (what vLLM and SGLang feed, and what the
/// golden cases define); module k ≥ 1 takes module k−1's block output. DeepSeek released only depth 1.
/// </remarks>
public sealed class MtpModule
{
    private readonly string _dump;   // "mtp.k.": the scope of this module's activation names

    public int Depth { get; }
    public RmsNormLayer ENorm { get; }
    public RmsNormLayer HNorm { get; }
    public Parameter EhProj { get; }
    public DecoderLayer Layer { get; }
    public RmsNormLayer HeadNorm { get; }
    public Parameter Embed { get; internal set; }
    public Parameter Head { get; internal set; }

    public MtpModule(ModelConfig c, Rope rope, Func<string, Parameter> p, int depth)
    {
        Depth = depth;
        int layer = c.NumHiddenLayers + depth;
        _dump = ActivationNames.Layer(c, layer);
        string pre = CheckpointLayout.LayerPrefix(layer);
        float eps = (float)c.RmsNormEps;
        Embed = p(pre + CheckpointLayout.MtpEmbed);
        ENorm = new RmsNormLayer(p(pre + CheckpointLayout.MtpENorm), eps);
        HNorm = new RmsNormLayer(p(pre + CheckpointLayout.MtpHNorm), eps);
        EhProj = p(pre + CheckpointLayout.MtpEhProj);
        Layer = new DecoderLayer(c, rope, p, layer);
        HeadNorm = new RmsNormLayer(p(pre + CheckpointLayout.MtpHeadNorm), eps);
        Head = p(pre + CheckpointLayout.MtpHead);
    }

    /// <summary>State of one forward of this module.</summary>
    public sealed class Activations
    {
        public readonly DecoderLayer.Activations Layer = new();
        public int[] Tokens = Array.Empty<int>();     // [n] the embedded tokens t_{i+k+1}
        public Tensor E, En, G, Gn;                   // [n, d] embedding, enorm(e), hidden in, hnorm(h)
        public float[] ERstd = Array.Empty<float>(), GRstd = Array.Empty<float>();
        public Tensor Cat;                            // [n, 2d] [En ; Gn]
        public Tensor H;                              // [n, d] block output (residual stream)
        public Tensor Z;                              // [n, d] shared_head.norm(H)
        public float[] ZRstd = Array.Empty<float>();
        public Tensor Logits;                         // [n, V]
        public BatchLayout Batch;                     // the rows' layout when uniform (training), else (1, n)
        internal readonly RaggedBatch Layout = new();
    }

    /// <summary>
    /// Training / scoring form over a batch: <paramref name="previous"/> [B·T_prev, d] holds h_i for each sequence
    /// (T_prev = T − k), <paramref name="tokens"/> [B·T] the input ids. Produces rows i = 0..T−k−2 per sequence.
    /// </summary>
    public void Forward(ForwardContext ctx, Tensor previous, ReadOnlySpan<int> tokens, int batch, int seqLen, Activations state, bool computeLogits = true)
    {
        int tPrev = seqLen - Depth, tOut = tPrev - 1;
        if (tOut <= 0) throw new InvalidInputException($"MTP depth {Depth + 1} needs sequences longer than {Depth + 1} tokens.");
        int n = batch * tOut;
        if (state.Tokens.Length != n) state.Tokens = new int[n];
        var prev = ctx.Arena.AllocateUninitialized(new TensorShape(n, previous.Cols));
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < tOut; i++)
            {
                state.Tokens[b * tOut + i] = tokens[b * seqLen + i + Depth + 1];
                previous.Row(b * tPrev + i).CopyTo(prev.Row(b * tOut + i));
            }
        Run(ctx, prev, state.Tokens, state.Layout.Set(new BatchLayout(batch, tOut)), state, computeLogits);
    }

    /// <summary>
    /// The shared core: rows of (h_i, token) pairs → block → logits. Segments of <paramref name="batch"/> with a cache
    /// (this module's own one-layer cache per sequence: speculative drafting) continue in it, and each cache holds its
    /// sequence up to the segment's end afterwards. With <paramref name="lastRowOnly"/> logits row s is segment s's last.
    /// </summary>
    public void Run(ForwardContext ctx, Tensor previous, ReadOnlySpan<int> nextTokens, RaggedBatch batch, Activations state,
        bool computeLogits = true, bool lastRowOnly = false)
    {
        batch.ValidateCaches(int.MaxValue);
        var arena = ctx.Arena;
        bool save = ctx.SaveActivations;
        int n = batch.Rows, d = previous.Cols;
        var e = arena.AllocateUninitialized(new TensorShape(n, d));           // [n, d]
        for (int i = 0; i < n; i++) Embed.ReadRow(nextTokens[i], e.Row(i));
        ctx.Dump?.Record(_dump, "embed", e);
        var cat = arena.AllocateUninitialized(new TensorShape(n, 2 * d));     // [n, 2d] = [enorm(e) ; hnorm(h)]
        var eRstd = save ? new float[n] : default;
        var gRstd = save ? new float[n] : default;
        ENorm.Forward(n, e.Span, d, cat.Span, 2 * d, eRstd);
        HNorm.Forward(n, previous.Span, d, cat.Span[d..], 2 * d, gRstd);
        ctx.Dump?.Record(_dump, "concat", cat);
        var h = arena.AllocateUninitialized(new TensorShape(n, d));           // [n, d]
        Linear.Forward(ctx.Pool, cat, EhProj, h);
        ctx.Dump?.Record(_dump, "proj", h);
        Layer.Forward(ctx, h, batch, state.Layer, cacheLayer: 0);
        batch.CommitCaches();
        state.H = h;
        state.Batch = batch.TryGetUniform(out var layout) ? layout : new BatchLayout(1, n);
        if (save)
        {
            state.E = e; state.G = previous; state.Cat = cat;
            state.ERstd = eRstd ?? Array.Empty<float>();
            state.GRstd = gRstd ?? Array.Empty<float>();
        }
        if (!computeLogits) return;
        if (lastRowOnly && !save)
        {
            // Drafting needs only each sequence's newest row; the head is the MTP module's biggest matmul.
            h = DeepSeekModel.LastRows(arena, h, batch);
            n = h.Rows;
        }
        var z = arena.AllocateUninitialized(new TensorShape(n, d));           // [n, d]
        var zRstd = save ? new float[n] : default;
        HeadNorm.Forward(h, z, zRstd);
        ctx.Dump?.Record(_dump, "norm", z);
        var logits = arena.AllocateUninitialized(new TensorShape(n, Head.Rows)); // [n, V]
        Linear.Forward(ctx.Pool, z, Head, logits);
        ctx.Dump?.Record(_dump, "logits", logits);
        state.Z = z;
        state.ZRstd = zRstd ?? Array.Empty<float>();
        state.Logits = logits;
    }

    /// <summary>
    /// Backward of <see cref="Run"/>: from ∂L/∂logits [n, V] (and ∂L/∂H from the next module, when there is one) to
    /// ∂L/∂(previous hidden) [n, d] in this module's row order; accumulates this module's weights, the shared head and
    /// the shared embedding.
    /// </summary>
    public void Backward(ForwardContext ctx, Activations state, Tensor dLogits, Tensor dHFromNext, Tensor dPrevious, ReadOnlySpan<float> balance)
    {
        var pool = ctx.Pool;
        int n = state.Batch.Rows, d = state.H.Cols;
        var dz = ctx.Arena.AllocateUninitialized(new TensorShape(n, d));
        Linear.BackwardInput(pool, n, dLogits.Span, Head.Rows, Head, dz.Span, d, accumulate: false);
        Linear.BackwardWeight(pool, n, dLogits.Span, Head.Rows, state.Z.Span, d, Head);
        var dh = ctx.Arena.AllocateUninitialized(new TensorShape(n, d));
        HeadNorm.Backward(state.H, state.ZRstd, dz, dh, accumulate: false);
        if (!dHFromNext.IsEmpty) Tensors.Kernels.VectorOps.Add(dHFromNext.Span, dh.Span);
        Layer.Backward(ctx, state.Layer, dh, balance);                       // dh = ∂L/∂eh_proj output
        var dcat = ctx.Arena.AllocateUninitialized(new TensorShape(n, 2 * d));
        Linear.BackwardInput(pool, n, dh.Span, d, EhProj, dcat.Span, 2 * d, accumulate: false);
        Linear.BackwardWeight(pool, n, dh.Span, d, state.Cat.Span, 2 * d, EhProj);
        var de = ctx.Arena.AllocateUninitialized(new TensorShape(n, d));
        ENorm.Backward(n, state.E.Span, d, state.ERstd, dcat.Span, 2 * d, de.Span, d, accumulate: false);
        DeepSeekModel.AccumulateEmbeddingGrad(Embed, state.Tokens, de);
        HNorm.Backward(n, state.G.Span, d, state.GRstd, dcat.Span[d..], 2 * d, dPrevious.Span, d, accumulate: false);
    }
}
