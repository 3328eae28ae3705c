using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// DeepSeekMoE (docs/architecture.md §7): y = Σ_{i∈TopK} g_i·FFN_i(u) + FFN_shared(u). Tokens are grouped by expert (a counting
/// sort), each expert runs once on its rows, and results are added back in expert order, as the reference does.
/// No capacity limit, no token dropping.
/// </summary>
public sealed class Moe
{
    private readonly string _dump;   // "layers.ℓ.ffn.": the scope of this layer's activation names

    public Router Router { get; }
    public Mlp[] Experts { get; }
    public Mlp? Shared { get; }
    /// <summary>
    /// The expert-parallel exchange when this layer's routed experts are split over ranks (training only): the forward
    /// and backward that save activations send each (token, expert) row to its expert's owner; null runs every expert here.
    /// </summary>
    public MoeDispatch? Dispatch { get; set; }

    public Moe(ModelConfig c, Func<string, Parameter> p, string prefix)
    {
        Router = new Router(c, p, prefix);
        _dump = ActivationNames.LayerOf(c, prefix) + ActivationNames.Ffn;
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
        public Tensor[] ExpertInputGrads = Array.Empty<Tensor>(); // per expert [count_e, d] ∂L/∂x_e, filled by backward
        public Mlp.Activations[] ExpertActs = Array.Empty<Mlp.Activations>();
        public Mlp.Activations SharedAct = new();
        public bool Saved;
        /// <summary>The forward's expert-parallel exchange (counts, the owned experts' intermediates); null when local.</summary>
        public MoeDispatch.Exchange? Exchange;
        public bool Dispatched;
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
            state.ExpertInputGrads = new Tensor[experts];
            state.ExpertActs = Enumerable.Range(0, experts).Select(_ => new Mlp.Activations()).ToArray();
        }
        state.X = u;
        state.Saved = save;
        state.Dispatched = save && Dispatch is not null;
        var weights = state.Routing.Weights;
        y.Clear();
        if (!save && n <= SmallBatch)
        {
            ForwardSmall(ctx, u, y, state);
            return;
        }
        // Each (token, expert) slot's input row, grouped by expert (the order of Order), and the experts' outputs the same way.
        var rows = ctx.Arena.AllocateUninitialized(new TensorShape(n * k, d));      // [n·K, d]
        var outputs = ctx.Arena.AllocateUninitialized(new TensorShape(n * k, d));   // [n·K, d]
        for (int j = 0; j < n * k; j++) u.Row(state.Order[j] / k).CopyTo(rows.Row(j));
        if (save && Dispatch is { } dispatch)
        {
            // Expert parallel: the rows travel to the ranks that own their experts, which run them on the rows of every
            // rank and send the outputs back (docs/distributed.md).
            var ex = state.Exchange ??= new MoeDispatch.Exchange();
            dispatch.Plan(ex, state.Counts, state.Routing.Indices.AsSpan(0, n * k), k);
            var xs = dispatch.ToOwners(ctx, ex, rows);                                 // per owned expert [rows_j, d]
            var ys = new Tensor[xs.Length];
            for (int j = 0; j < xs.Length; j++)
                if (!xs[j].IsEmpty) ys[j] = ctx.Arena.AllocateUninitialized(new TensorShape(xs[j].Rows, d));
            if (ex.Acts.Length != xs.Length) ex.Acts = Enumerable.Range(0, xs.Length).Select(_ => new Mlp.Activations()).ToArray();
            RunRoutedExperts(ctx, Experts.AsSpan(dispatch.FirstExpert, xs.Length), xs, ys, ex.Acts, save);
            dispatch.FromOwners(ex, ys, outputs);
        }
        else
        {
            var xs = new Tensor[experts];
            var ys = new Tensor[experts];
            for (int e = 0; e < experts; e++)
                if (state.Counts[e] > 0)
                {
                    xs[e] = rows.Slice(state.Offsets[e], state.Counts[e]);            // [count_e, d]
                    ys[e] = outputs.Slice(state.Offsets[e], state.Counts[e]);         // [count_e, d]
                }
            RunRoutedExperts(ctx, Experts, xs, ys, state.ExpertActs, save);
        }
        for (int e = 0; e < experts; e++)
            state.ExpertOutputs[e] = state.Counts[e] == 0 ? default : outputs.Slice(state.Offsets[e], state.Counts[e]);
        for (int e = 0; e < experts; e++)
            for (int i = 0; i < state.Counts[e]; i++)
            {
                int slot = state.Order[state.Offsets[e] + i];
                VectorOps.AddScaled(state.ExpertOutputs[e].Row(i), weights[slot], y.Row(slot / k));
            }
        ctx.Dump?.Record(_dump, "routed", y);
        Shared?.Forward(ctx, u, y, accumulate: true, act: save ? state.SharedAct : null);
    }

    // Runs experts[i] on xs[i] into ys[i] (an empty xs[i]: that expert has no rows), keeping each one's intermediates
    // in acts[i] when saving: side by side, one per thread, when there are many; otherwise one after another.
    private static void RunRoutedExperts(ForwardContext ctx, ReadOnlySpan<Mlp> experts, Tensor[] xs, Tensor[] ys, Mlp.Activations[] acts, bool save)
    {
        bool sideBySide = ManyExperts(ctx.Pool, xs);
        var job = ExpertTrainingBatch.ForThisThread();
        job.Items.Clear();
        for (int e = 0; e < experts.Length; e++)
        {
            if (xs[e].IsEmpty) continue;
            if (!sideBySide) { experts[e].Forward(ctx, xs[e], ys[e], act: save ? acts[e] : null); continue; }
            // Every side-by-side expert keeps its intermediates in its Mlp.Activations (H is G when not saving).
            int count = xs[e].Rows, inter = experts[e].IntermediateSize;
            var a = acts[e];
            a.X = xs[e];
            a.G = ctx.Arena.AllocateUninitialized(new TensorShape(count, inter));   // [count_e, I]
            a.U = ctx.Arena.AllocateUninitialized(new TensorShape(count, inter));   // [count_e, I]
            a.H = save ? ctx.Arena.AllocateUninitialized(new TensorShape(count, inter)) : a.G;
            job.Items.Add((experts[e], ys[e], a));
        }
        if (sideBySide) ctx.Pool.For(job.Items.Count, new RunTrainingExperts(ctx.Pool, job.Items));
        job.Items.Clear();
    }

    // Backward of RunRoutedExperts: dxs[i] = ∂L/∂xs[i] from dys[i]; accumulates each expert's weight gradients.
    private static void RunRoutedExpertBackwards(ForwardContext ctx, ReadOnlySpan<Mlp> experts, Mlp.Activations[] acts, Tensor[] dys, Tensor[] dxs)
    {
        bool sideBySide = ManyExperts(ctx.Pool, dys);
        var backward = ExpertBackwardBatch.ForThisThread();
        backward.Items.Clear();
        for (int e = 0; e < experts.Length; e++)
        {
            if (dys[e].IsEmpty) continue;
            if (!sideBySide) { experts[e].Backward(ctx, acts[e], dys[e], dxs[e], accumulate: false); continue; }
            var shape = new TensorShape(dys[e].Rows, experts[e].IntermediateSize);
            backward.Items.Add((experts[e], acts[e], dys[e], dxs[e],
                ctx.Arena.AllocateUninitialized(shape), ctx.Arena.AllocateUninitialized(shape), ctx.Arena.AllocateUninitialized(shape)));
        }
        if (sideBySide) ctx.Pool.For(backward.Items.Count, new RunExpertBackwards(ctx.Pool, backward.Items));
        backward.Items.Clear();
    }

    /// <summary>Token counts up to this run the chosen experts side by side, one per thread (decoding, draft verification).</summary>
    public const int SmallBatch = 4;

    // Decoding touches a handful of experts with a row or two each: each is too small to split across threads, so the
    // experts (and the shared expert) run in parallel instead, each single-threaded, into their own buffers; the sum is
    // then taken in expert order as in the batched path, so both give the same bits.
    private void ForwardSmall(ForwardContext ctx, Tensor u, Tensor y, Activations state)
    {
        int d = u.Cols, k = Router.ExpertsPerToken;
        var job = ExpertBatch.ForThisThread();
        job.Reset();
        for (int e = 0; e < Experts.Length; e++)
        {
            int count = state.Counts[e];
            if (count == 0) { state.ExpertOutputs[e] = default; continue; }
            int inter = Experts[e].IntermediateSize;
            var xe = ctx.Arena.AllocateUninitialized(new TensorShape(count, d));      // [count_e, d]
            for (int i = 0; i < count; i++) u.Row(state.Order[state.Offsets[e] + i] / k).CopyTo(xe.Row(i));
            var ye = ctx.Arena.AllocateUninitialized(new TensorShape(count, d));
            job.Add(Experts[e], xe, ye, ctx.Arena.AllocateUninitialized(new TensorShape(count, inter)), ctx.Arena.AllocateUninitialized(new TensorShape(count, inter)));
            state.ExpertOutputs[e] = ye;
        }
        Tensor shared = default;
        if (Shared is not null)
        {
            int n = u.Rows, inter = Shared.IntermediateSize;
            shared = ctx.Arena.AllocateUninitialized(new TensorShape(n, d));
            job.Add(Shared, u, shared, ctx.Arena.AllocateUninitialized(new TensorShape(n, inter)), ctx.Arena.AllocateUninitialized(new TensorShape(n, inter)));
        }
        ctx.Pool.For(job.Count, new RunExperts(ctx.Pool, job.Items));
        job.Clear();
        var weights = state.Routing.Weights;
        for (int e = 0; e < Experts.Length; e++)
        {
            int count = state.Counts[e];
            for (int i = 0; i < count; i++)
            {
                int slot = state.Order[state.Offsets[e] + i];
                VectorOps.AddScaled(state.ExpertOutputs[e].Row(i), weights[slot], y.Row(slot / k));
            }
        }
        ctx.Dump?.Record(_dump, "routed", y);
        if (!shared.IsEmpty) VectorOps.Add(shared.Span, y.Span);
    }

    /// <summary>
    /// Experts run side by side, one per thread with single-threaded GEMMs, when at least this many per thread are
    /// active: then every thread stays busy, and one dispatch replaces a handful per expert (a training step of
    /// train-36m runs 64 experts × 4 layers of ~100-row GEMMs, 3 forward and 6 backward, each too small to split well).
    /// With fewer, larger experts each GEMM is split across the threads instead.
    /// </summary>
    public const int SideBySidePerThread = 4;

    private static bool ManyExperts(WorkerPool pool, Tensor[] rows)
    {
        int active = 0;
        foreach (var r in rows) if (!r.IsEmpty) active++;
        return pool.ThreadCount > 1 && active >= SideBySidePerThread * pool.ThreadCount;
    }

    // The experts of a small batch, one (expert, its tokens) per index; each multiplies on the thread that runs it.
    private sealed class ExpertBatch
    {
        [ThreadStatic] private static ExpertBatch? t_batch;
        public static ExpertBatch ForThisThread() => t_batch ??= new ExpertBatch();
        public readonly List<(Mlp Mlp, Tensor X, Tensor Y, Tensor G, Tensor U)> Items = new();
        public int Count => Items.Count;
        public void Reset() => Items.Clear();
        public void Add(Mlp mlp, Tensor x, Tensor y, Tensor g, Tensor u) => Items.Add((mlp, x, y, g, u));
        public void Clear() => Items.Clear();
    }

    private readonly struct RunExperts(WorkerPool pool, List<(Mlp Mlp, Tensor X, Tensor Y, Tensor G, Tensor U)> items) : IParallelJob
    {
        public void Execute(int index)
        {
            var (mlp, x, y, g, u) = items[index];
            mlp.Forward(pool, x, y, g, u, g);     // nested in a pool job: runs on this thread
        }
    }

    // Training's experts side by side: (expert, its rows, its output, its saved activations G, U, H) per index.
    private sealed class ExpertTrainingBatch
    {
        [ThreadStatic] private static ExpertTrainingBatch? t_batch;
        public static ExpertTrainingBatch ForThisThread() => t_batch ??= new ExpertTrainingBatch();
        public readonly List<(Mlp Mlp, Tensor Y, Mlp.Activations Act)> Items = new();
    }

    private readonly struct RunTrainingExperts(WorkerPool pool, List<(Mlp Mlp, Tensor Y, Mlp.Activations Act)> items) : IParallelJob
    {
        public void Execute(int index)
        {
            var (mlp, y, a) = items[index];
            mlp.Forward(pool, a.X, y, a.G, a.U, a.H);   // nested in a pool job: runs on this thread
        }
    }

    // The backward of experts side by side: (expert, its saved activations, dy_e, dx_e, scratch dh, dg, du) per index.
    private sealed class ExpertBackwardBatch
    {
        [ThreadStatic] private static ExpertBackwardBatch? t_batch;
        public static ExpertBackwardBatch ForThisThread() => t_batch ??= new ExpertBackwardBatch();
        public readonly List<(Mlp Mlp, Mlp.Activations Act, Tensor Dy, Tensor Dx, Tensor Dh, Tensor Dg, Tensor Du)> Items = new();
    }

    private readonly struct RunExpertBackwards(WorkerPool pool, List<(Mlp Mlp, Mlp.Activations Act, Tensor Dy, Tensor Dx, Tensor Dh, Tensor Dg, Tensor Du)> items) : IParallelJob
    {
        public void Execute(int index)
        {
            var (mlp, act, dy, dx, dh, dg, du) = items[index];
            mlp.Backward(pool, act, dy, dx, dh, dg, du, accumulate: false);   // nested: runs on this thread
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: du[n, d] (+)= ∂L/∂u from dy[n, d], through the shared expert, every routed
    /// expert (in expert order) and the gate. <paramref name="balance"/> is the balance loss's ∂L/∂s̄ per sequence
    /// ([B, N_r], empty when the loss is off) for sequences of <paramref name="seqLen"/> tokens.
    /// </summary>
    public void Backward(ForwardContext ctx, Activations state, Tensor dy, Tensor du, ReadOnlySpan<float> balance, int seqLen, bool accumulate)
    {
        if (!state.Saved) throw new InvalidOperationException("MoE backward needs a forward that saved its activations.");
        int n = dy.Rows, d = dy.Cols, k = Router.ExpertsPerToken;
        if (!accumulate) du.Clear();
        var weights = state.Routing.Weights;
        var dWeights = ctx.Arena.Allocate(n * k);                              // [n·K] ∂L/∂g
        var dRows = ctx.Arena.AllocateUninitialized(new TensorShape(n * k, d));  // [n·K, d] ∂L/∂FFN_e(u) per slot, grouped by expert
        var dxRows = ctx.Arena.AllocateUninitialized(new TensorShape(n * k, d)); // [n·K, d] ∂L/∂x per slot, grouped by expert
        for (int e = 0; e < Experts.Length; e++)
        {
            int count = state.Counts[e];
            if (count == 0) continue;
            var ye = state.ExpertOutputs[e];                                   // [count_e, d] expert output
            for (int i = 0; i < count; i++)
            {
                int at = state.Offsets[e] + i, slot = state.Order[at];
                var g = dy.Row(slot / k);
                dWeights.Span[slot] = VectorOps.Dot(g, ye.Row(i));             // ∂L/∂g = dy · FFN_e(u)
                var row = dRows.Row(at);
                g.CopyTo(row);
                VectorOps.Scale(row, weights[slot]);                           // ∂L/∂FFN_e(u) = g · dy
            }
        }
        if (state.Dispatched)
        {
            // Expert parallel: ∂L/∂FFN_e(u) travels to the owners like the dispatch, ∂L/∂x comes back like the combine.
            var dispatch = Dispatch ?? throw new InvalidOperationException("This MoE layer's forward dispatched its tokens but it has no dispatch now.");
            var ex = state.Exchange!;
            var dys = dispatch.ToOwners(ctx, ex, dRows);                        // per owned expert [rows_j, d]
            var dxOwned = new Tensor[dys.Length];
            for (int j = 0; j < dys.Length; j++)
                if (!dys[j].IsEmpty) dxOwned[j] = ctx.Arena.AllocateUninitialized(new TensorShape(dys[j].Rows, d));
            RunRoutedExpertBackwards(ctx, Experts.AsSpan(dispatch.FirstExpert, dys.Length), ex.Acts, dys, dxOwned);
            dispatch.FromOwners(ex, dxOwned, dxRows);
        }
        else
        {
            var dys = new Tensor[Experts.Length];
            var dxe = new Tensor[Experts.Length];
            for (int e = 0; e < Experts.Length; e++)
                if (state.Counts[e] > 0)
                {
                    dys[e] = dRows.Slice(state.Offsets[e], state.Counts[e]);           // [count_e, d]
                    dxe[e] = dxRows.Slice(state.Offsets[e], state.Counts[e]);          // [count_e, d]
                }
            RunRoutedExpertBackwards(ctx, Experts, state.ExpertActs, dys, dxe);
        }
        var dxs = state.ExpertInputGrads;
        for (int e = 0; e < Experts.Length; e++)
        {
            dxs[e] = state.Counts[e] == 0 ? default : dxRows.Slice(state.Offsets[e], state.Counts[e]);
            for (int i = 0; i < state.Counts[e]; i++)
                VectorOps.Add(dxs[e].Row(i), du.Row(state.Order[state.Offsets[e] + i] / k));
        }
        Shared?.Backward(ctx, state.SharedAct, dy, du, accumulate: true);
        Router.Backward(ctx, state.Routing, state.X, dWeights.Span, balance, seqLen, du);
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
