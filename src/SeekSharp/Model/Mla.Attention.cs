using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

// The two attention kernels of MLA. Queries at absolute positions qStart + t attend to keys at kStart + s when
// kStart + s ≤ qStart + t (causal, with the diagonal offset that chunked prefill and speculative verification need).
public sealed partial class Mla
{
    /// <summary>σ·(q^C·k^C + q^R·k^R) for the first `count` keys, softmax, zeros after: one row of probabilities.</summary>
    private static void MaskedSoftmax(Span<float> row, int count, float scale)
    {
        var valid = row[..count];
        VectorOps.Scale(valid, scale);
        Softmax.InPlace(valid);
        row[count..].Clear();
    }

    private static int VisibleKeys(int t, int qStart, int kStart, int keys) => Math.Min(keys, qStart + t - kStart + 1);

    // ---------------------------------------------------------------- naive

    /// <summary>
    /// Per (sequence, head): scores [T, S] = q_h·k_hᵀ (nope part against kvb, rope part against the shared kr),
    /// softmax, o_h = P·v_h. probs [B, n_h, T, S] receives the probabilities when not empty.
    /// </summary>
    private void AttendNaive(ForwardContext ctx, Tensor q, Tensor kvb, Tensor kr, Tensor o, int batches, int t, int s,
        int qStart, int kStart, Tensor probs)
    {
        var job = NaiveJob.ForThisThread();
        job.Set(ctx.Pool, this, q, kvb, kr, o, t, s, qStart, kStart, probs);
        ctx.Pool.For(batches * _nh, job);
        job.Clear();
    }

    private sealed class NaiveJob : ParallelWork
    {
        [ThreadStatic] private static NaiveJob? t_job;
        [ThreadStatic] private static float[]? t_scores;
        public static NaiveJob ForThisThread() => t_job ??= new NaiveJob();

        private WorkerPool _pool = null!;
        private Mla _m = null!;
        private Tensor _q, _kvb, _kr, _o, _probs;
        private int _t, _s, _qStart, _kStart;

        public void Set(WorkerPool pool, Mla m, Tensor q, Tensor kvb, Tensor kr, Tensor o, int t, int s, int qStart, int kStart, Tensor probs)
        {
            (_pool, _m, _q, _kvb, _kr, _o, _t, _s, _qStart, _kStart, _probs) = (pool, m, q, kvb, kr, o, t, s, qStart, kStart, probs);
        }

        public void Clear() { _pool = null!; _m = null!; _q = _kvb = _kr = _o = _probs = default; }

        public override void Execute(int index)
        {
            var m = _m;
            int b = index / m._nh, h = index % m._nh;
            int ldq = m._nh * m._dqk, ldkv = m._nh * (m._dn + m._dv), ldo = m._nh * m._dv;
            Span<float> scores;
            if (!_probs.IsEmpty) scores = _probs[b][h].Span;                       // [T, S]
            else
            {
                if (t_scores is null || t_scores.Length < _t * _s) t_scores = new float[_t * _s];
                scores = t_scores.AsSpan(0, _t * _s);
            }
            var qb = _q.Span[(b * _t * ldq)..];
            var kvbb = _kvb.Span[(b * _s * ldkv)..];
            var krb = _kr.Span[(b * _s * m._dr)..];
            var pool = _pool; // nested inside a pool job this runs inline; alone (one job) it may use the pool
            Gemm.Multiply(pool, _t, _s, m._dn, qb[(h * m._dqk)..], ldq, false, kvbb[(h * (m._dn + m._dv))..], ldkv, true, scores, _s);
            Gemm.Multiply(pool, _t, _s, m._dr, qb[(h * m._dqk + m._dn)..], ldq, false, krb, m._dr, true, scores, _s, accumulate: true);
            float scale = m.Rope.SoftmaxScale;
            for (int i = 0; i < _t; i++)
                MaskedSoftmax(scores.Slice(i * _s, _s), VisibleKeys(i, _qStart, _kStart, _s), scale);
            Gemm.Multiply(pool, _t, m._dv, _s, scores, _s, false, kvbb[(h * (m._dn + m._dv) + m._dn)..], ldkv, false,
                _o.Span[(b * _t * ldo + h * m._dv)..], ldo);
        }
    }

    // ---------------------------------------------------------------- absorbed

    /// <summary>
    /// MQA over the latent: q̃_h = W^UKᵀ_h q^C_h, scores = σ(q̃·cᵀ + q^R·k^Rᵀ) for all heads of a query at once, ĉ = P·c,
    /// o_h = W^UV_h ĉ_h. c [S, d_c] and kr [S, d_r] are the keys (the cache, or this sequence's own latents).
    /// </summary>
    /// <remarks>
    /// Queries are attended one at a time, so a token's result does not depend on how many tokens share the chunk:
    /// verifying a speculative draft gives bit for bit the logits of decoding token by token.
    /// </remarks>
    private void AttendAbsorbed(ForwardContext ctx, Tensor q, Tensor c, Tensor kr, Tensor o, int t, int qStart, int kStart)
    {
        var arena = ctx.Arena;
        int s = c.Rows, rows = t * _nh;
        var qt = arena.AllocateUninitialized(new TensorShape(rows, _dc));       // [T·n_h, d_c], row t·n_h + h
        var qRope = arena.AllocateUninitialized(new TensorShape(rows, _dr));    // [T·n_h, d_r]
        var job = AbsorbedJob.ForThisThread();
        job.SetAbsorbQuery(ctx.Pool, this, q, qt, qRope, t);
        ctx.Pool.For(_nh, job);

        var scores = arena.AllocateUninitialized(new TensorShape(_nh, s));      // [n_h, S] for one query
        var cHat = arena.AllocateUninitialized(new TensorShape(rows, _dc));     // [T·n_h, d_c]
        float scale = Rope.SoftmaxScale;
        for (int i = 0; i < t; i++)
        {
            var qi = qt.Slice(i * _nh, _nh);
            var qri = qRope.Slice(i * _nh, _nh);
            Gemm.Multiply(ctx.Pool, _nh, s, _dc, qi.Span, _dc, false, c.Span, _dc, true, scores.Span, s);
            Gemm.Multiply(ctx.Pool, _nh, s, _dr, qri.Span, _dr, false, kr.Span, _dr, true, scores.Span, s, accumulate: true);
            int visible = VisibleKeys(i, qStart, kStart, s);
            for (int h = 0; h < _nh; h++) MaskedSoftmax(scores.Row(h), visible, scale);
            Gemm.Multiply(ctx.Pool, _nh, _dc, s, scores.Span, s, false, c.Span, _dc, false, cHat.Slice(i * _nh, _nh).Span, _dc);
        }

        job.SetAbsorbOutput(ctx.Pool, this, cHat, o, t);
        ctx.Pool.For(_nh, job);
        job.Clear();
    }

    private sealed class AbsorbedJob : ParallelWork
    {
        [ThreadStatic] private static AbsorbedJob? t_job;
        public static AbsorbedJob ForThisThread() => t_job ??= new AbsorbedJob();

        private WorkerPool _pool = null!;
        private Mla _m = null!;
        private Tensor _a, _b, _c;
        private int _t;
        private bool _output;

        public void SetAbsorbQuery(WorkerPool pool, Mla m, Tensor q, Tensor qt, Tensor qRope, int t) { (_pool, _m, _a, _b, _c, _t, _output) = (pool, m, q, qt, qRope, t, false); }
        public void SetAbsorbOutput(WorkerPool pool, Mla m, Tensor cHat, Tensor o, int t) { (_pool, _m, _a, _b, _c, _t, _output) = (pool, m, cHat, o, default, t, true); }
        public void Clear() { _pool = null!; _m = null!; _a = _b = _c = default; }

        public override void Execute(int h)
        {
            var m = _m;
            var pool = _pool;
            int rowsPerHead = m._dn + m._dv;
            if (!_output)
            {
                // q̃[t, h, :] = q^C[t, h, :] · W^UK_h   (W^UK_h = kv_b rows h·(d_n+d_v) .. +d_n, [d_n, d_c])
                int ldq = m._nh * m._dqk;
                Linear.MultiplyRows(pool, _t, _a.Span[(h * m._dqk)..], ldq, m.KvBProj, h * rowsPerHead, m._dn, asTransposed: false,
                    _b.Span[(h * m._dc)..], m._nh * m._dc);
                for (int i = 0; i < _t; i++)
                    _a.Row(i).Slice(h * m._dqk + m._dn, m._dr).CopyTo(_c.Row(i * m._nh + h));
            }
            else
            {
                // o[t, h, :] = ĉ[t, h, :] · W^UV_hᵀ   (W^UV_h = kv_b rows h·(d_n+d_v)+d_n .. +d_v, [d_v, d_c])
                Linear.MultiplyRows(pool, _t, _a.Span[(h * m._dc)..], m._nh * m._dc, m.KvBProj, h * rowsPerHead + m._dn, m._dv, asTransposed: true,
                    _b.Span[(h * m._dv)..], m._nh * m._dv);
            }
        }
    }
}
