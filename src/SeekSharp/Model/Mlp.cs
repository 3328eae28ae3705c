using SeekSharp.Tensors;
using Kernel = SeekSharp.Tensors.Kernels.Activations;

namespace SeekSharp.Model;

/// <summary>
/// SwiGLU feed-forward (docs/architecture.md §6): FFN(x) = W_down(SiLU(W_gate x) ⊙ W_up x). The dense layers, each routed
/// expert and the shared-expert block are all this.
/// </summary>
public sealed class Mlp(Parameter gate, Parameter up, Parameter down)
{
    public Parameter Gate { get; } = gate;
    public Parameter Up { get; } = up;
    public Parameter Down { get; } = down;
    public int IntermediateSize => Gate.Rows;

    public static Mlp FromLayer(Func<string, Parameter> p, string prefix, string gateName, string upName, string downName) =>
        new(p(prefix + gateName), p(prefix + upName), p(prefix + downName));

    /// <summary>Intermediates kept for the backward pass.</summary>
    public sealed class Activations
    {
        public Tensor X;    // [n, d]
        public Tensor G;    // [n, I] gate pre-activation
        public Tensor U;    // [n, I] up projection
        public Tensor H;    // [n, I] SiLU(G) ⊙ U
    }

    /// <summary>y[n, d] (+)= FFN(x[n, d]).</summary>
    public void Forward(ForwardContext ctx, Tensor x, Tensor y, bool accumulate = false, Activations? act = null)
    {
        int n = x.Rows, inter = IntermediateSize;
        var g = ctx.Arena.AllocateUninitialized(new TensorShape(n, inter));   // [n, I]
        var u = ctx.Arena.AllocateUninitialized(new TensorShape(n, inter));   // [n, I]
        var h = act is null ? g : ctx.Arena.AllocateUninitialized(new TensorShape(n, inter));
        Forward(ctx.Pool, x, y, g, u, h, accumulate);
        if (act is not null) { act.X = x; act.G = g; act.U = u; act.H = h; }
    }

    /// <summary>The same into caller-provided scratch g, u, h [n, I] (h may be g): no arena, so it can run inside a pool job.</summary>
    public void Forward(WorkerPool pool, Tensor x, Tensor y, Tensor g, Tensor u, Tensor h, bool accumulate = false)
    {
        Linear.Forward(pool, x, Gate, g);
        Linear.Forward(pool, x, Up, u);
        for (int r = 0; r < x.Rows; r++) Kernel.SiluMul(g.Row(r), u.Row(r), h.Row(r));
        Linear.Forward(pool, h, Down, y, accumulate);
    }

    /// <summary>
    /// Backward of <see cref="Forward(ForwardContext, Tensor, Tensor, bool, Activations?)"/>: dx[n, d] (+)= ∂L/∂x from dy[n, d]; accumulates the three weights' gradients.
    /// </summary>
    public void Backward(ForwardContext ctx, Activations act, Tensor dy, Tensor dx, bool accumulate)
    {
        int n = act.X.Rows, inter = IntermediateSize;
        var dh = ctx.Arena.AllocateUninitialized(new TensorShape(n, inter));    // [n, I]
        var dg = ctx.Arena.AllocateUninitialized(new TensorShape(n, inter));    // [n, I]
        var du = ctx.Arena.AllocateUninitialized(new TensorShape(n, inter));    // [n, I]
        Backward(ctx.Pool, act, dy, dx, dh, dg, du, accumulate);
    }

    /// <summary>The same with caller-provided scratch dh, dg, du [n, I]: no arena, so it can run inside a pool job.</summary>
    public void Backward(WorkerPool pool, Activations act, Tensor dy, Tensor dx, Tensor dh, Tensor dg, Tensor du, bool accumulate)
    {
        int n = act.X.Rows, d = act.X.Cols, inter = IntermediateSize;
        Linear.BackwardInput(pool, n, dy.Span, d, Down, dh.Span, inter, accumulate: false);
        Linear.BackwardWeight(pool, n, dy.Span, d, act.H.Span, inter, Down);
        for (int r = 0; r < n; r++) Kernel.SiluMulBackward(act.G.Row(r), act.U.Row(r), dh.Row(r), dg.Row(r), du.Row(r));
        Linear.BackwardWeight(pool, n, dg.Span, inter, act.X.Span, d, Gate);
        Linear.BackwardWeight(pool, n, du.Span, inter, act.X.Span, d, Up);
        Linear.BackwardInput(pool, n, dg.Span, inter, Gate, dx.Span, d, accumulate);
        Linear.BackwardInput(pool, n, du.Span, inter, Up, dx.Span, d, accumulate: true);
    }
}
