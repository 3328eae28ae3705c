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
        int qStart, int kStart, Tensor probs) =>
        ctx.Pool.For(batches * _nh, new NaiveAttention(ctx.Pool, this, q, kvb, kr, o, t, s, qStart, kStart, probs));

    private readonly struct NaiveAttention(WorkerPool pool, Mla m, Tensor q, Tensor kvb, Tensor kr, Tensor o, int t, int s,
        int qStart, int kStart, Tensor probs) : IParallelJob
    {
        [ThreadStatic] private static float[]? t_scores;

        public void Execute(int index)
        {
            int b = index / m._nh, h = index % m._nh, dn = m._dn, dr = m._dr, dv = m._dv;
            // This sequence's rows and this head's columns: q_h = [q^C_h, q^R_h], kv_h = [k^C_h, v_h], k^R shared.
            var qh = q.Matrix.Block(b * t, t, h * m._dqk, m._dqk);                 // [T, d_n + d_r]
            var kvh = kvb.Matrix.Block(b * s, s, h * (dn + dv), dn + dv);         // [S, d_n + d_v]
            var kR = kr.Matrix.RowRange(b * s, s);                                // [S, d_r]
            var oh = o.Matrix.Block(b * t, t, h * dv, dv);                        // [T, d_v]
            MatrixView scores;                                                    // [T, S]
            if (!probs.IsEmpty) scores = probs[b][h].Reshape(t, s).Matrix;
            else
            {
                if (t_scores is null || t_scores.Length < t * s) t_scores = new float[t * s];
                scores = new MatrixView(t_scores, 0, t, s, s);
            }
            // Nested inside a pool job these products run inline; alone (one job) they may use the pool.
            Gemm.Multiply(pool, qh.ColumnRange(0, dn), kvh.ColumnRange(0, dn).T, scores);                 // q^C·k^Cᵀ
            Gemm.Multiply(pool, qh.ColumnRange(dn, dr), kR.T, scores, accumulate: true);                   // + q^R·k^Rᵀ
            float scale = m.Rope.SoftmaxScale;
            var rows = scores.Buffer.AsSpan(scores.Offset, t * s);
            for (int i = 0; i < t; i++)
                MaskedSoftmax(rows.Slice(i * s, s), VisibleKeys(i, qStart, kStart, s), scale);
            Gemm.Multiply(pool, scores, kvh.ColumnRange(dn, dv), oh);                                      // o_h = P·v_h
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
        ctx.Pool.For(_nh, new AbsorbQuery(ctx.Pool, this, q, qt, qRope, t));

        var cHat = arena.AllocateUninitialized(new TensorShape(rows, _dc));     // [T·n_h, d_c]
        var scratch = arena.AllocateUninitialized(new TensorShape(LatentAttention.ScratchSize(_nh, _dc, s)));
        for (int i = 0; i < t; i++)
        {
            // ĉ = softmax(σ(q̃·cᵀ + q^R·k^Rᵀ))·c over the keys query i sees, all heads at once.
            LatentAttention.Attend(ctx.Pool, qt.Slice(i * _nh, _nh), qRope.Slice(i * _nh, _nh), c, kr, VisibleKeys(i, qStart, kStart, s),
                Rope.SoftmaxScale, cHat.Slice(i * _nh, _nh), scratch);
        }

        ctx.Pool.For(_nh, new AbsorbOutput(ctx.Pool, this, cHat, o, t));
    }

    // q̃[t, h, :] = q^C[t, h, :] · W^UK_h   (W^UK_h = kv_b rows h·(d_n+d_v) .. +d_n, [d_n, d_c]); q^R copied beside it.
    private readonly struct AbsorbQuery(WorkerPool pool, Mla m, Tensor q, Tensor qt, Tensor qRope, int t) : IParallelJob
    {
        public void Execute(int h)
        {
            int ldq = m._nh * m._dqk;
            Linear.MultiplyRows(pool, t, q.Span[(h * m._dqk)..], ldq, m.KvBProj, h * (m._dn + m._dv), m._dn, asTransposed: false,
                qt.Span[(h * m._dc)..], m._nh * m._dc);
            for (int i = 0; i < t; i++)
                q.Row(i).Slice(h * m._dqk + m._dn, m._dr).CopyTo(qRope.Row(i * m._nh + h));
        }
    }

    // o[t, h, :] = ĉ[t, h, :] · W^UV_hᵀ   (W^UV_h = kv_b rows h·(d_n+d_v)+d_n .. +d_v, [d_v, d_c]).
    private readonly struct AbsorbOutput(WorkerPool pool, Mla m, Tensor cHat, Tensor o, int t) : IParallelJob
    {
        public void Execute(int h) =>
            Linear.MultiplyRows(pool, t, cHat.Span[(h * m._dc)..], m._nh * m._dc, m.KvBProj, h * (m._dn + m._dv) + m._dn, m._dv, asTransposed: true,
                o.Span[(h * m._dv)..], m._nh * m._dv);
    }
}
