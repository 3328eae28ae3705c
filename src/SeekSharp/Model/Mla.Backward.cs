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
        var job = AttentionBackwardJob.ForThisThread();
        job.Set(pool, this, act, dO, dq, dkvb, dkrHeads, t);
        pool.For(batch.Batch * _nh, job);
        job.Clear();
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
    private sealed class AttentionBackwardJob : ParallelWork
    {
        [ThreadStatic] private static AttentionBackwardJob? t_job;
        [ThreadStatic] private static float[]? t_dp;
        public static AttentionBackwardJob ForThisThread() => t_job ??= new AttentionBackwardJob();

        private WorkerPool _pool = null!;
        private Mla _m = null!;
        private Activations _act = null!;
        private Tensor _dO, _dq, _dkvb, _dkrHeads;
        private int _t;

        public void Set(WorkerPool pool, Mla m, Activations act, Tensor dO, Tensor dq, Tensor dkvb, Tensor dkrHeads, int t) =>
            (_pool, _m, _act, _dO, _dq, _dkvb, _dkrHeads, _t) = (pool, m, act, dO, dq, dkvb, dkrHeads, t);

        public void Clear() { _pool = null!; _m = null!; _act = null!; _dO = _dq = _dkvb = _dkrHeads = default; }

        public override void Execute(int index)
        {
            var m = _m;
            int b = index / m._nh, h = index % m._nh, t = _t;
            int ldq = m._nh * m._dqk, ldkv = m._nh * (m._dn + m._dv), ldo = m._nh * m._dv;
            int kOff = h * (m._dn + m._dv), vOff = kOff + m._dn;
            var p = _act.Probs[b][h].Span;                                   // [T, T]
            if (t_dp is null || t_dp.Length < t * t) t_dp = new float[t * t];
            var dp = t_dp.AsSpan(0, t * t);                                  // [T, T]
            var pool = _pool;
            var dO = _dO.Span[(b * t * ldo + h * m._dv)..];
            var kvb = _act.Kvb.Span[(b * t * ldkv)..];
            var dkvb = _dkvb.Span[(b * t * ldkv)..];
            var q = _act.Q.Span[(b * t * ldq + h * m._dqk)..];
            var dq = _dq.Span[(b * t * ldq + h * m._dqk)..];
            var kr = _act.Kr.Span[(b * t * m._dr)..];
            var dkr = _dkrHeads[h].Span[(b * t * m._dr)..];

            Gemm.Multiply(pool, t, t, m._dv, dO, ldo, false, kvb[vOff..], ldkv, true, dp, t);                 // dP = dO·Vᵀ
            Gemm.Multiply(pool, t, m._dv, t, p, t, true, dO, ldo, false, dkvb[vOff..], ldkv);                   // dV = Pᵀ·dO
            float scale = m.Rope.SoftmaxScale;
            for (int i = 0; i < t; i++)
            {
                var pr = p.Slice(i * t, t);
                var dpr = dp.Slice(i * t, t);
                float dot = VectorOps.Dot(pr, dpr);
                for (int s = 0; s < t; s++) dpr[s] = pr[s] * (dpr[s] - dot) * scale;                     // dS
            }
            Gemm.Multiply(pool, t, m._dn, t, dp, t, false, kvb[kOff..], ldkv, false, dq, ldq);                 // dQ^C = dS·K^C
            Gemm.Multiply(pool, t, m._dr, t, dp, t, false, kr, m._dr, false, dq[m._dn..], ldq);                // dQ^R = dS·K^R
            Gemm.Multiply(pool, t, m._dn, t, dp, t, true, q, ldq, false, dkvb[kOff..], ldkv);                  // dK^C = dSᵀ·Q^C
            Gemm.Multiply(pool, t, m._dr, t, dp, t, true, q[m._dn..], ldq, false, dkr, m._dr);                 // dK^R_h = dSᵀ·Q^R
        }
    }
}
