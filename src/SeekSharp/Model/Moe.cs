using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// DeepSeekMoE (spec §7): y = Σ_{i∈TopK} g_i·FFN_i(u) + FFN_shared(u). Tokens are grouped by expert (a counting
/// sort), each expert runs once on its rows, and results are added back in expert order, as the reference does.
/// No capacity limit, no token dropping.
/// </summary>
public sealed class Moe
{
    public Router Router { get; }
    public Mlp[] Experts { get; }
    public Mlp? Shared { get; }

    public Moe(ModelConfig c, Func<string, Parameter> p, string prefix)
    {
        Router = new Router(c, p, prefix);
        Experts = new Mlp[Router.Experts];
        for (int e = 0; e < Experts.Length; e++)
            Experts[e] = Mlp.FromLayer(p, prefix, CheckpointLayout.ExpertGate(e), CheckpointLayout.ExpertUp(e), CheckpointLayout.ExpertDown(e));
        if (c.SharedExpertWidth > 0)
            Shared = Mlp.FromLayer(p, prefix, CheckpointLayout.SharedGate, CheckpointLayout.SharedUp, CheckpointLayout.SharedDown);
    }

    /// <summary>Routing and per-expert intermediates of one forward; reused between forwards of the same layer.</summary>
    public sealed class Activations
    {
        public readonly Router.Routing Routing = new();
        public int[] Counts = Array.Empty<int>();    // [N_r] tokens per expert (the load)
        public int[] Offsets = Array.Empty<int>();   // [N_r + 1] start of each expert's run in Order
        public int[] Order = Array.Empty<int>();     // [n·K] slot t·K + k, grouped by expert, by token within an expert
        public Tensor X;                              // [n, d]
        public Tensor[] ExpertOutputs = Array.Empty<Tensor>();  // per expert [count_e, d]
        public Mlp.Activations[] ExpertActs = Array.Empty<Mlp.Activations>();
        public Mlp.Activations SharedAct = new();
        public bool Saved;
    }

    /// <summary>y[n, d] = MoE(u[n, d]). With <paramref name="save"/>, every expert's intermediates are kept for backward.</summary>
    public void Forward(ForwardContext ctx, Tensor u, Tensor y, Activations state, bool save)
    {
        int n = u.Rows, d = u.Cols, k = Router.ExpertsPerToken, experts = Experts.Length;
        Router.Route(ctx, u, state.Routing);
        Group(state, n, k, experts);
        if (state.ExpertOutputs.Length != experts)
        {
            state.ExpertOutputs = new Tensor[experts];
            state.ExpertActs = Enumerable.Range(0, experts).Select(_ => new Mlp.Activations()).ToArray();
        }
        state.X = u;
        state.Saved = save;
        var weights = state.Routing.Weights;
        y.Clear();
        for (int e = 0; e < experts; e++)
        {
            int count = state.Counts[e];
            if (count == 0) { state.ExpertOutputs[e] = default; continue; }
            var xe = ctx.Arena.AllocateUninitialized(new TensorShape(count, d));   // [count_e, d]
            var ye = ctx.Arena.AllocateUninitialized(new TensorShape(count, d));   // [count_e, d]
            for (int i = 0; i < count; i++) u.Row(state.Order[state.Offsets[e] + i] / k).CopyTo(xe.Row(i));
            Experts[e].Forward(ctx, xe, ye, act: save ? state.ExpertActs[e] : null);
            state.ExpertOutputs[e] = ye;
            for (int i = 0; i < count; i++)
            {
                int slot = state.Order[state.Offsets[e] + i];
                VectorOps.AddScaled(ye.Row(i), weights[slot], y.Row(slot / k));
            }
        }
        Shared?.Forward(ctx, u, y, accumulate: true, act: save ? state.SharedAct : null);
    }

    // Counting sort of the n·K (token, slot) pairs by expert.
    private static void Group(Activations state, int n, int k, int experts)
    {
        if (state.Counts.Length != experts)
        {
            state.Counts = new int[experts];
            state.Offsets = new int[experts + 1];
        }
        if (state.Order.Length < n * k) state.Order = new int[n * k];
        var counts = state.Counts;
        Array.Clear(counts);
        var indices = state.Routing.Indices;
        for (int i = 0; i < n * k; i++) counts[indices[i]]++;
        state.Offsets[0] = 0;
        for (int e = 0; e < experts; e++) state.Offsets[e + 1] = state.Offsets[e] + counts[e];
        Span<int> cursor = experts <= 1024 ? stackalloc int[experts] : new int[experts];
        state.Offsets.AsSpan(0, experts).CopyTo(cursor);
        for (int i = 0; i < n * k; i++) state.Order[cursor[indices[i]]++] = i;
    }
}
