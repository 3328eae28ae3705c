using SeekSharp.Inference;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// Multi-head Latent Attention (spec §4). Queries come from x directly (q_proj) or through the q LoRA
/// (q_a_proj → q_a_layernorm → q_b_proj); keys and values from the latent c = RMSNorm(W^DKV x) and one rotary key
/// k^R shared by all heads. Two equal forms: naive (per-head K and V, for training and prefill) and absorbed
/// (W^UK folded into the query, W^UV into the output, attention over the cached latent, for decoding).
/// </summary>
public sealed partial class Mla
{
    private readonly int _d, _nh, _dn, _dr, _dqk, _dv, _dc, _qr;

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
    /// output[N, d] = MLA(x[N, d]). Without a cache the rows are <paramref name="batch"/>'s sequences; with one, the
    /// batch is a single sequence whose latents are appended at positions StartPosition.. and attention covers
    /// the whole cache. <paramref name="act"/>, when given, receives what the backward pass needs.
    /// </summary>
    public void Forward(ForwardContext ctx, Tensor x, Tensor output, BatchLayout batch, Activations? act = null,
        LatentKvCache? cache = null, int cacheLayer = 0)
    {
        var pool = ctx.Pool;
        var arena = ctx.Arena;
        int n = batch.Rows;
        if (x.Rows != n || x.Cols != _d) throw new ArgumentException($"MLA input {x.Shape} does not match {n} rows of {_d}.");
        Rope.EnsureCapacity(batch.StartPosition + batch.SeqLen);

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
            int pos = batch.StartPosition + r % batch.SeqLen;
            ckv.Row(r).Slice(_dc, _dr).CopyTo(kr.Row(r));
            Rope.Apply(kr.Row(r), pos);
            var qRow = q.Row(r);
            for (int h = 0; h < _nh; h++) Rope.Apply(qRow.Slice(h * _dqk + _dn, _dr), pos);
        }

        var o = arena.AllocateUninitialized(new TensorShape(n, _nh * _dv));   // [N, n_h·d_v]
        Tensor kvb = default, probs = default;
        if (cache is not null)
            AttendWithCache(ctx, q, c, kr, o, batch, cache, cacheLayer);
        else if (ctx.Attention == AttentionMode.Absorbed && act is null)
        {
            for (int b = 0; b < batch.Batch; b++)
            {
                int r0 = b * batch.SeqLen, t = batch.SeqLen;
                AttendAbsorbed(ctx, q.Slice(r0, t), c.Slice(r0, t), kr.Slice(r0, t), o.Slice(r0, t), t, batch.StartPosition, batch.StartPosition);
            }
        }
        else
        {
            kvb = arena.AllocateUninitialized(new TensorShape(n, _nh * (_dn + _dv)));   // [N, n_h·(d_n + d_v)]
            Linear.Forward(pool, c, KvBProj, kvb);
            if (act is not null) probs = arena.AllocateUninitialized(new TensorShape(batch.Batch, _nh, batch.SeqLen, batch.SeqLen));
            AttendNaive(ctx, q, kvb, kr, o, batch.Batch, batch.SeqLen, batch.SeqLen, batch.StartPosition, batch.StartPosition, probs);
        }

        Linear.Forward(pool, o, OProj, output);

        if (act is not null)
        {
            act.Batch = batch; act.X = x; act.Cq = cq; act.CqNorm = cqNorm; act.QRstd = qRstd; act.Q = q;
            act.Ckv = ckv; act.KvRstd = kvRstd; act.C = c; act.Kr = kr; act.Kvb = kvb; act.Probs = probs; act.O = o;
        }
    }

    // Appends this chunk's latents to the cache, then attends over everything cached so far.
    private void AttendWithCache(ForwardContext ctx, Tensor q, Tensor c, Tensor kr, Tensor o, BatchLayout batch, LatentKvCache cache, int layer)
    {
        if (batch.Batch != 1) throw new ArgumentException("A cached forward takes one sequence.");
        int start = batch.StartPosition, t = batch.SeqLen, total = start + t;
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
