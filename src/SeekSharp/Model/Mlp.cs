using SeekSharp.Tensors;
using Kernel = SeekSharp.Tensors.Kernels.Activations;

namespace SeekSharp.Model;

/// <summary>
/// SwiGLU feed-forward (spec §6): FFN(x) = W_down(SiLU(W_gate x) ⊙ W_up x). The dense layers, each routed
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
        Linear.Forward(ctx.Pool, x, Gate, g);
        Linear.Forward(ctx.Pool, x, Up, u);
        for (int r = 0; r < n; r++) Kernel.SiluMul(g.Row(r), u.Row(r), h.Row(r));
        Linear.Forward(ctx.Pool, h, Down, y, accumulate);
        if (act is not null) { act.X = x; act.G = g; act.U = u; act.H = h; }
    }
}
