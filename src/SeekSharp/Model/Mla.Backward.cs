using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

// Backward of the naive (training) form of MLA, mirroring Forward in reverse.
public sealed partial class Mla
{
    /// <summary>
    /// dx[N, d] (+)= ∂L/∂x given dout[N, d] = ∂L/∂output; accumulates every MLA weight's gradient. Needs the
    /// activations of a naive forward without cache.
    /// </summary>
    public void Backward(ForwardContext ctx, Activations act, Tensor dout, Tensor dx, bool accumulate)
    {
        var pool = ctx.Pool;
        var arena = ctx.Arena;
        var batch = act.Batch;
        int n = batch.Rows, t = batch.SeqLen;
        if (act.Probs.IsEmpty) throw new InvalidOperationException("MLA backward needs a naive forward that saved its activations.");

        // o_proj: do = dout·W_O, dW_O += doutᵀ·o
        var dO = arena.AllocateUninitialized(new TensorShape(n, _nh * _dv));              // [N, n_h·d_v]
        Linear.BackwardInput(pool, n, dout.Span, _d, OProj, dO.Span, _nh * _dv, accumulate: false);
        Linear.BackwardWeight(pool, n, dout.Span, _d, act.O.Span, _nh * _dv, OProj);

        // Attention, per (sequence, head).
        var dq = arena.AllocateUninitialized(new TensorShape(n, _nh * _dqk));             // [N, n_h·d_qk]
        var dkvb = arena.AllocateUninitialized(new TensorShape(n, _nh * (_dn + _dv)));    // [N, n_h·(d_n+d_v)]
        var dkrHeads = arena.AllocateUninitialized(new TensorShape(_nh, n, _dr));         // [n_h, N, d_r]
        pool.For(batch.Batch * _nh, new AttentionBackward(pool, this, act, dO, dq, dkvb, dkrHeads, t));
        var dkr = arena.Allocate(new TensorShape(n, _dr));                                // [N, d_r] = Σ_h (fixed order)
        for (int h = 0; h < _nh; h++) VectorOps.Add(dkrHeads[h].Span, dkr.Span);

        // kv_b_proj: dc = dkvb·W_UKV, dW_UKV += dkvbᵀ·c
        var dc = arena.AllocateUninitialized(new TensorShape(n, _dc));                    // [N, d_c]
        Linear.BackwardInput(pool, n, dkvb.Span, _nh * (_dn + _dv), KvBProj, dc.Span, _dc, accumulate: false);
        Linear.BackwardWeight(pool, n, dkvb.Span, _nh * (_dn + _dv), act.C.Span, _dc, KvBProj);

        // kv_a_layernorm on the latent, RoPE on the shared key → dckv [N, d_c + d_r]
        var dckv = arena.AllocateUninitialized(new TensorShape(n, _dc + _dr));
        KvANorm.Backward(n, act.Ckv.Span, _dc + _dr, act.KvRstd, dc.Span, _dc, dckv.Span, _dc + _dr, accumulate: false);
        for (int r = 0; r < n; r++)
        {
            var dst = dckv.Row(r).Slice(_dc, _dr);
            dkr.Row(r).CopyTo(dst);
            Rope.ApplyTranspose(dst, batch.StartPosition + r % t);
        }
        Linear.BackwardWeight(pool, n, dckv.Span, _dc + _dr, act.X.Span, _d, KvAProj);
        Linear.BackwardInput(pool, n, dckv.Span, _dc + _dr, KvAProj, dx.Span, _d, accumulate);

        // Queries: undo the rotation of the rope parts, then q_proj or the q LoRA.
        for (int r = 0; r < n; r++)
        {
            var row = dq.Row(r);
            for (int h = 0; h < _nh; h++) Rope.ApplyTranspose(row.Slice(h * _dqk + _dn, _dr), batch.StartPosition + r % t);
        }
        if (QProj is not null)
        {
            Linear.BackwardWeight(pool, n, dq.Span, _nh * _dqk, act.X.Span, _d, QProj);
            Linear.BackwardInput(pool, n, dq.Span, _nh * _dqk, QProj, dx.Span, _d, accumulate: true);
            return;
        }
        var dcqn = arena.AllocateUninitialized(new TensorShape(n, _qr));                 // [N, q_lora_rank]
        Linear.BackwardInput(pool, n, dq.Span, _nh * _dqk, QBProj!, dcqn.Span, _qr, accumulate: false);
        Linear.BackwardWeight(pool, n, dq.Span, _nh * _dqk, act.CqNorm.Span, _qr, QBProj!);
        var dcq = arena.AllocateUninitialized(new TensorShape(n, _qr));
        QANorm!.Backward(act.Cq, act.QRstd, dcqn, dcq, accumulate: false);
        Linear.BackwardWeight(pool, n, dcq.Span, _qr, act.X.Span, _d, QAProj!);
        Linear.BackwardInput(pool, n, dcq.Span, _qr, QAProj!, dx.Span, _d, accumulate: true);
    }

    /// <summary>
    /// One (sequence, head): with P the saved probabilities, dP = dO·Vᵀ, dV = Pᵀ·dO, dS = σ·P⊙(dP − rowsum(P⊙dP)),
    /// dQ = dS·K, dK = dSᵀ·Q, split into the nope part (per head) and the rope part (shared key: one buffer per head,
    /// summed afterwards in head order so the result does not depend on scheduling).
    /// </summary>
    private readonly struct AttentionBackward(WorkerPool pool, Mla m, Activations act, Tensor dO, Tensor dq, Tensor dkvb, Tensor dkrHeads, int t)
        : IParallelJob
    {
        [ThreadStatic] private static float[]? t_dp;

        public void Execute(int index)
        {
            int b = index / m._nh, h = index % m._nh, dn = m._dn, dr = m._dr, dv = m._dv;
            // This sequence's rows, this head's columns: q_h = [q^C, q^R], kv_h = [k^C, v], the shared k^R.
            var p = act.Probs[b][h].Reshape(t, t).Matrix;                           // [T, T]
            var qh = act.Q.Matrix.Block(b * t, t, h * m._dqk, m._dqk);              // [T, d_n + d_r]
            var dqh = dq.Matrix.Block(b * t, t, h * m._dqk, m._dqk);
            var kvh = act.Kvb.Matrix.Block(b * t, t, h * (dn + dv), dn + dv);      // [T, d_n + d_v]
            var dkvh = dkvb.Matrix.Block(b * t, t, h * (dn + dv), dn + dv);
            var kR = act.Kr.Matrix.RowRange(b * t, t);                              // [T, d_r]
            var dkR = dkrHeads[h].Matrix.RowRange(b * t, t);                        // [T, d_r], this head's share
            var dOh = dO.Matrix.Block(b * t, t, h * dv, dv);                        // [T, d_v]
            var (qC, qR, kC, v) = (qh.ColumnRange(0, dn), qh.ColumnRange(dn, dr), kvh.ColumnRange(0, dn), kvh.ColumnRange(dn, dv));
            if (t_dp is null || t_dp.Length < t * t) t_dp = new float[t * t];
            var dp = new MatrixView(t_dp, 0, t, t, t);                              // [T, T]

            Gemm.Multiply(pool, dOh, v.T, dp);                                      // dP = dO·Vᵀ
            Gemm.Multiply(pool, p.T, dOh, dkvh.ColumnRange(dn, dv));                // dV = Pᵀ·dO
            float scale = m.Rope.SoftmaxScale;
            var pRows = p.Buffer.AsSpan(p.Offset, t * t);
            var dpRows = t_dp.AsSpan(0, t * t);
            for (int i = 0; i < t; i++)
            {
                var pr = pRows.Slice(i * t, t);
                var dpr = dpRows.Slice(i * t, t);
                float dot = VectorOps.Dot(pr, dpr);
                for (int s = 0; s < t; s++) dpr[s] = pr[s] * (dpr[s] - dot) * scale;   // dS = σ·P⊙(dP − rowsum(P⊙dP))
            }
            Gemm.Multiply(pool, dp, kC, dqh.ColumnRange(0, dn));                    // dQ^C = dS·K^C
            Gemm.Multiply(pool, dp, kR, dqh.ColumnRange(dn, dr));                   // dQ^R = dS·K^R
            Gemm.Multiply(pool, dp.T, qC, dkvh.ColumnRange(0, dn));                 // dK^C = dSᵀ·Q^C
            Gemm.Multiply(pool, dp.T, qR, dkR);                                     // dK^R_h = dSᵀ·Q^R
        }
    }
}
