using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// Multi-head Latent Attention (docs/architecture.md §4). Queries come from x directly (q_proj) or through the q LoRA
/// (q_a_proj → q_a_layernorm → q_b_proj); keys and values from the latent c = RMSNorm(W^DKV x) and one rotary key
/// k^R shared by all heads. Two equal forms: naive (per-head K and V, for training and prefill) and absorbed
/// (W^UK folded into the query, W^UV into the output, attention over the cached latent, for decoding).
/// </summary>
public sealed partial class Mla
{
    private readonly int _d, _nh, _dn, _dr, _dqk, _dv, _dc, _qr;
    private readonly string _dump;   // "layers.ℓ.attn.": the scope of this block's activation names

    public Parameter? QProj { get; }
    public Parameter? QAProj { get; }
    public RmsNormLayer? QANorm { get; }
    public Parameter? QBProj { get; }
    public Parameter KvAProj { get; }
    public RmsNormLayer KvANorm { get; }
    public Parameter KvBProj { get; }
    public Parameter OProj { get; }
    public Rope Rope { get; }

    public Mla(ModelConfig c, Rope rope, Func<string, Parameter> p, string prefix)
    {
        (_d, _nh, _dn, _dr, _dv, _dc) = (c.HiddenSize, c.NumAttentionHeads, c.QkNopeHeadDim, c.QkRopeHeadDim, c.VHeadDim, c.KvLoraRank);
        _dqk = _dn + _dr;
        float eps = (float)c.RmsNormEps;
        if (c.HasQLora)
        {
            _qr = c.QLoraRank!.Value;
            QAProj = p(prefix + CheckpointLayout.QAProj);
            QANorm = new RmsNormLayer(p(prefix + CheckpointLayout.QANorm), eps);
            QBProj = p(prefix + CheckpointLayout.QBProj);
        }
        else
            QProj = p(prefix + CheckpointLayout.QProj);
        KvAProj = p(prefix + CheckpointLayout.KvAProj);
        KvANorm = new RmsNormLayer(p(prefix + CheckpointLayout.KvANorm), eps);
        KvBProj = p(prefix + CheckpointLayout.KvBProj);
        OProj = p(prefix + CheckpointLayout.OProj);
        Rope = rope;
        _dump = ActivationNames.LayerOf(c, prefix) + ActivationNames.Attention;
    }

    /// <summary>Intermediates of one forward, kept for the backward pass.</summary>
    public sealed class Activations
    {
        public BatchLayout Batch;
        public Tensor X;        // [N, d] input (already normalised by the layer)
        public Tensor Cq;       // [N, q_lora_rank] q_a_proj output (q LoRA only)
        public Tensor CqNorm;   // [N, q_lora_rank]
        public float[] QRstd = Array.Empty<float>();   // [N]
        public Tensor Q;        // [N, n_h·d_qk], rotary parts rotated
        public Tensor Ckv;      // [N, d_c + d_r] kv_a_proj output, before norm and RoPE
        public float[] KvRstd = Array.Empty<float>();  // [N]
        public Tensor C;        // [N, d_c] normalised latent
        public Tensor Kr;       // [N, d_r] rotated shared key
        public Tensor Kvb;      // [N, n_h·(d_n + d_v)] per-head k^C and v
        public Tensor Probs;    // [B, n_h, T, T] attention probabilities
        public Tensor O;        // [N, n_h·d_v] attention output before o_proj
    }

    /// <summary>
    /// output[N, d] = MLA(x[N, d]) over <paramref name="batch"/>'s segments. A segment with a cache appends its latents
    /// at its positions (in layer <paramref name="cacheLayer"/>) and attends over the whole cache; one without attends
    /// to itself. <paramref name="act"/>, when given (training: equal-length segments, no caches), receives what the
    /// backward pass needs.
    /// </summary>
    public void Forward(ForwardContext ctx, Tensor x, Tensor output, RaggedBatch batch, Activations? act = null, int cacheLayer = 0)
    {
        var pool = ctx.Pool;
        var arena = ctx.Arena;
        int n = batch.Rows;
        if (x.Rows != n || x.Cols != _d) throw new ArgumentException($"MLA input {x.Shape} does not match {n} rows of {_d}.");
        var positions = batch.Positions;
        int maxPosition = 0;
        foreach (int p in positions) maxPosition = Math.Max(maxPosition, p);
        Rope.EnsureCapacity(maxPosition + 1);

        // Queries: [N, n_h·d_qk]
        var q = arena.AllocateUninitialized(new TensorShape(n, _nh * _dqk));
        Tensor cq = default, cqNorm = default;
        float[] qRstd = Array.Empty<float>();
        if (QProj is not null)
            Linear.Forward(pool, x, QProj, q);
        else
        {
            cq = arena.AllocateUninitialized(new TensorShape(n, _qr));           // [N, q_lora_rank]
            cqNorm = arena.AllocateUninitialized(new TensorShape(n, _qr));
            qRstd = act is null ? Array.Empty<float>() : new float[n];
            Linear.Forward(pool, x, QAProj!, cq);
            QANorm!.Forward(cq, cqNorm, qRstd);
            Linear.Forward(pool, cqNorm, QBProj!, q);
            ctx.Dump?.Record(_dump, "cq", cqNorm);
        }

        // Latent and shared rotary key: ckv [N, d_c + d_r] → c [N, d_c], kr [N, d_r]
        var ckv = arena.AllocateUninitialized(new TensorShape(n, _dc + _dr));
        Linear.Forward(pool, x, KvAProj, ckv);
        var c = arena.AllocateUninitialized(new TensorShape(n, _dc));
        var kr = arena.AllocateUninitialized(new TensorShape(n, _dr));
        float[] kvRstd = act is null ? Array.Empty<float>() : new float[n];
        KvANorm.Forward(n, ckv.Span, _dc + _dr, c.Span, _dc, kvRstd);
        for (int r = 0; r < n; r++)
        {
            int pos = positions[r];
            ckv.Row(r).Slice(_dc, _dr).CopyTo(kr.Row(r));
            Rope.Apply(kr.Row(r), pos);
            var qRow = q.Row(r);
            for (int h = 0; h < _nh; h++) Rope.Apply(qRow.Slice(h * _dqk + _dn, _dr), pos);
        }
        ctx.Dump?.Record(_dump, "q", q.Reshape(n, _nh, _dqk));
        ctx.Dump?.Record(_dump, "c", c);
        ctx.Dump?.Record(_dump, "kr", kr);

        var o = arena.AllocateUninitialized(new TensorShape(n, _nh * _dv));   // [N, n_h·d_v]
        Tensor kvb = default, probs = default;
        bool uniform = batch.TryGetUniform(out var layout);
        if (act is not null && !uniform) throw new ArgumentException("A training forward takes equal-length sequences without caches.");
        if (uniform && (act is not null || ctx.Attention == AttentionMode.Naive))
        {
            // Equal-length sequences attending to themselves: per-head keys and values for all of them at once.
            kvb = arena.AllocateUninitialized(new TensorShape(n, _nh * (_dn + _dv)));   // [N, n_h·(d_n + d_v)]
            Linear.Forward(pool, c, KvBProj, kvb);
            if (act is not null) probs = arena.AllocateUninitialized(new TensorShape(layout.Batch, _nh, layout.SeqLen, layout.SeqLen));
            AttendNaive(ctx, q, kvb, kr, o, layout.Batch, layout.SeqLen, layout.SeqLen, layout.StartPosition, layout.StartPosition, probs);
        }
        else
        {
            foreach (var seg in batch.Segments)
            {
                int r0 = seg.RowStart, t = seg.Length;
                var (qs, cs, krs, os) = (q.Slice(r0, t), c.Slice(r0, t), kr.Slice(r0, t), o.Slice(r0, t));
                if (seg.Cache is { } cache) AttendWithCache(ctx, qs, cs, krs, os, seg.Position, t, cache, cacheLayer);
                else if (ctx.Attention == AttentionMode.Absorbed) AttendAbsorbed(ctx, qs, cs, krs, os, t, seg.Position, seg.Position);
                else AttendSelfNaive(ctx, qs, cs, krs, os, t, seg.Position);
            }
        }

        ctx.Dump?.Record(_dump, "o", o.Reshape(n, _nh, _dv));
        Linear.Forward(pool, o, OProj, output);
        ctx.Dump?.Record(_dump, "out", output);

        if (act is not null)
        {
            act.Batch = layout; act.X = x; act.Cq = cq; act.CqNorm = cqNorm; act.QRstd = qRstd; act.Q = q;
            act.Ckv = ckv; act.KvRstd = kvRstd; act.C = c; act.Kr = kr; act.Kvb = kvb; act.Probs = probs; act.O = o;
        }
    }

    // One sequence attending to itself with per-head keys and values.
    private void AttendSelfNaive(ForwardContext ctx, Tensor q, Tensor c, Tensor kr, Tensor o, int t, int position)
    {
        var kvb = ctx.Arena.AllocateUninitialized(new TensorShape(t, _nh * (_dn + _dv)));
        Linear.Forward(ctx.Pool, c, KvBProj, kvb);
        AttendNaive(ctx, q, kvb, kr, o, 1, t, t, position, position, default);
    }

    // Appends this chunk's latents to the cache, then attends over everything cached so far.
    private void AttendWithCache(ForwardContext ctx, Tensor q, Tensor c, Tensor kr, Tensor o, int start, int t, LatentKvCache cache, int layer)
    {
        int total = start + t;
        if (start > cache.Length) throw new InvalidOperationException($"Cache holds {cache.Length} positions; cannot write at {start}.");
        if (total > cache.Capacity) throw new ContextFullException(cache.Capacity, total);
        c.Span.CopyTo(cache.Latent(layer).Slice(start, t).Span);
        kr.Span.CopyTo(cache.RopeKey(layer).Slice(start, t).Span);
        var cAll = cache.Latent(layer).Slice(0, total);     // [S, d_c]
        var krAll = cache.RopeKey(layer).Slice(0, total);   // [S, d_r]
        // Decoding and short verification chunks are memory-bound: the absorbed form reads only the latent.
        // Long prefill chunks are compute-bound: materialising per-head keys and values costs fewer FLOPs.
        if (t <= AbsorbedMaxRows || ctx.Attention == AttentionMode.Absorbed)
            AttendAbsorbed(ctx, q, cAll, krAll, o, t, start, 0);
        else
        {
            var kvb = ctx.Arena.AllocateUninitialized(new TensorShape(total, _nh * (_dn + _dv)));
            Linear.Forward(ctx.Pool, cAll, KvBProj, kvb);
            AttendNaive(ctx, q, kvb, krAll, o, 1, t, total, start, 0, default);
        }
    }

    /// <summary>Chunks of at most this many new tokens attend in absorbed form when a cache is used.</summary>
    public const int AbsorbedMaxRows = 8;
}
