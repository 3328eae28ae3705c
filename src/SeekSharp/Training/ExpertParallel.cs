using System.Diagnostics;
using SeekSharp.Distributed;
using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Training;

/// <summary>
/// Expert parallelism, alone or with data parallelism (docs/distributed.md): the N ranks of the job form N/E
/// expert-parallel groups of E consecutive ranks. Within a group, rank r owns routed experts [r·N_r/E, (r+1)·N_r/E) of
/// every MoE layer, and tokens travel to their experts' owners by all-to-allv (<see cref="MoeDispatch"/>). The ranks
/// with the same place in their groups are data-parallel replicas of the same experts.
/// </summary>
/// <remarks>
/// <para>Every rank trains on its own share of the global batch, as in data parallelism. Attention, dense layers,
/// shared experts, routers, norms and embeddings are replicated: their gradients are summed over all ranks. A routed
/// expert lives on its owner only: its weights, gradient and AdamW moments (the other ranks drop theirs when the
/// trainer attaches, so a rank holds 1/E of the experts' memory). Its gradient is complete on its owner (it ran on
/// the rows of the whole group) and is summed only over its replicas.</para>
/// <para>The gradient norm for clipping is the global one: each tensor's Σg², in double, is taken from a rank that
/// computed it (an all-reduce of maxima: the owner's value, or zero), then summed in parameter order as one process
/// does. The optimiser runs unclipped on gradients already scaled by the clip factor, which gives the same floats.</para>
/// <para>Before a checkpoint or an evaluation, <see cref="GatherWholeModel"/> brings every expert's weights (and for a
/// checkpoint its moments) from its owner to rank 0, which evaluates and writes the whole, current model, so a run
/// resumes on any number of ranks; <see cref="ReleaseGathered"/> drops them again.</para>
/// </remarks>
public sealed class ExpertParallel : IDisposable
{
    private readonly Stopwatch _communication = new();
    private readonly List<Moe> _layers = new();            // every MoE layer, the MTP modules' included
    private readonly HashSet<Parameter> _elsewhere = new(); // routed experts' matrices another rank of the group owns
    private readonly List<Parameter> _replicated = new();
    private readonly List<Parameter> _owned = new();
    private DataParallel? _replicaGradients;
    private float[] _send = [], _receive = [];

    /// <summary>The whole job.</summary>
    public Communicator World { get; }
    /// <summary>This rank's expert-parallel group: E consecutive ranks that split the experts.</summary>
    public Communicator Group { get; }
    /// <summary>The ranks holding the same experts as this one (one per group).</summary>
    public Communicator Replicas { get; }
    public MoeDispatch? Dispatch { get; private set; }

    /// <summary>Wall time in the token exchange (all-to-alls of dispatch and combine), waits included.</summary>
    public TimeSpan ExchangeTime => Dispatch?.CommunicationTime ?? TimeSpan.Zero;
    /// <summary>Wall time in this class's other collectives within steps: the norm, the replicas' expert gradients.</summary>
    public TimeSpan CommunicationTime => _communication.Elapsed + (_replicaGradients?.CommunicationTime ?? TimeSpan.Zero);

    /// <param name="world">The job's communicator.</param>
    /// <param name="groupSize">E, ranks per expert-parallel group; must divide the number of ranks.</param>
    public ExpertParallel(Communicator world, int groupSize)
    {
        if (groupSize < 1 || world.Size % groupSize != 0)
            throw new InvalidInputException($"--ep {groupSize} does not divide the job's {world.Size} ranks into expert-parallel groups.");
        World = world;
        Group = world.Split(world.Rank / groupSize, world.Rank % groupSize);
        Replicas = world.Split(world.Rank % groupSize, world.Rank / groupSize);
    }

    /// <summary>
    /// Splits <paramref name="model"/>'s routed experts over <see cref="Group"/> (refused when they cannot split) and
    /// drops the values and gradients of the experts other ranks own. Called by the trainer before it builds the
    /// optimiser, which keeps moments for <see cref="Holds"/> only.
    /// </summary>
    public void Attach(DeepSeekModel model)
    {
        var c = model.Config;
        if (!c.HasMoe) throw new InvalidInputException("Expert parallelism needs a model with routed experts (n_routed_experts).");
        int experts = c.NRoutedExperts!.Value, e = Group.Size;
        if (experts % e != 0)
            throw new InvalidInputException($"{experts} routed experts do not split over {e} expert-parallel ranks: use a number that divides {experts}.");
        Dispatch = new MoeDispatch(Group, experts);
        var expertSet = new HashSet<Parameter>();
        foreach (var moe in MoeLayers(model))
        {
            moe.Dispatch = Dispatch;
            _layers.Add(moe);
            for (int i = 0; i < moe.Experts.Length; i++)
                foreach (var p in Matrices(moe.Experts[i]))
                {
                    expertSet.Add(p);
                    if (Dispatch.OwnerOf(i) == Group.Rank) _owned.Add(p);
                    else
                    {
                        p.ReleaseValues();
                        _elsewhere.Add(p);
                    }
                }
        }
        _replicated.AddRange(model.Parameters.Where(p => p.Role != ParameterRole.ExpertBias && !expertSet.Contains(p)));
        if (Replicas.Size > 1) _replicaGradients = new DataParallel(Replicas, overlap: false);
    }

    /// <summary>Whether this rank keeps <paramref name="p"/> (everything but the routed experts other ranks own).</summary>
    public bool Holds(Parameter p) => !_elsewhere.Contains(p);

    private static Parameter[] Matrices(Mlp expert) => [expert.Gate, expert.Up, expert.Down];

    private static IEnumerable<Moe> MoeLayers(DeepSeekModel model)
    {
        foreach (var layer in model.Layers) if (layer.Moe is { } m) yield return m;
        foreach (var mtp in model.Mtp) if (mtp.Layer.Moe is { } m) yield return m;
    }

    /// <summary>
    /// Sums the gradients after backward: replicated parameters over the whole job (through <paramref name="world"/>,
    /// bucketed), owned experts over their replicas.
    /// </summary>
    public void ReduceGradients(DataParallel world)
    {
        world.AllReduceGradients(_replicated);
        _replicaGradients?.AllReduceGradients(_owned);
    }

    /// <summary>
    /// Clips by the global gradient norm and takes one step of <paramref name="optimizer"/> (built with clipping off);
    /// returns the pre-clip norm, as <see cref="Optimizer.Step"/> does.
    /// </summary>
    public double Step(Optimizer optimizer, WorkerPool pool, double lr, double gradClip)
    {
        var parameters = optimizer.Parameters;
        var squares = new double[parameters.Count];        // [P] Σg² per tensor
        for (int i = 0; i < parameters.Count; i++)
        {
            double s = 0;
            foreach (var g in parameters[i].Grad.AsSpan()) s += (double)g * g;   // no gradient here: an expert owned elsewhere
            squares[i] = s;
        }
        _communication.Start();
        World.AllReduceMax<double>(squares);                 // a non-owner's Σg² is 0, every other rank's is the same
        _communication.Stop();
        double sum = 0;
        foreach (double s in squares) sum += s;
        double norm = Math.Sqrt(sum);
        if (!double.IsFinite(norm)) throw new TrainingDivergedException($"The gradient norm is {norm} at step {optimizer.StepCount + 1}.");
        if (gradClip > 0 && norm > gradClip)
        {
            float clip = (float)(gradClip / norm);
            foreach (var p in parameters)
            {
                var g = p.Grad.AsSpan();
                for (int i = 0; i < g.Length; i++) g[i] *= clip;
            }
        }
        optimizer.Step(pool, lr);
        return norm;
    }

    /// <summary>
    /// Brings every routed expert's weights from its owner to rank 0 of the job, and with
    /// <paramref name="optimizerState"/> its AdamW moments too (for <see cref="Optimizer.Save"/>), so that rank 0 holds
    /// the whole model and state as one process would. A collective of the group that holds rank 0 (MPI_Gather per MoE
    /// layer and matrix kind, the experts of each rank being consecutive); the other groups return at once.
    /// <see cref="ReleaseGathered"/> drops the experts again.
    /// </summary>
    public void GatherWholeModel(Optimizer optimizer, bool optimizerState)
    {
        var dispatch = Dispatch ?? throw new InvalidOperationException("ExpertParallel.Attach was not called.");
        if (World.Rank >= Group.Size) return;              // not the group of rank 0
        bool root = Group.Rank == 0, moments = optimizerState && optimizer.Options.Kind == OptimizerKind.AdamW;
        var index = new Dictionary<Parameter, int>();
        for (int i = 0; i < optimizer.Parameters.Count; i++) index[optimizer.Parameters[i]] = i;
        float[]? m = null, v = null;
        if (root && moments) (m, v) = optimizer.HeldMomentsFlattened();
        int owned = dispatch.ExpertsPerRank, first = dispatch.FirstExpert;
        foreach (var moe in _layers)
            for (int kind = 0; kind < 3; kind++)
            {
                var mats = moe.Experts.Select(e => Matrices(e)[kind]).ToArray();   // [N_r] this kind's matrix of every expert
                int size = mats[0].Size;
                Collect(mats, size, owned, first, root, p => p.Data!, (p, values) => p.SetValues(values));
                if (!moments) continue;
                Collect(mats, size, owned, first, root, p => optimizer.MomentsOf(index[p]).M,
                    (p, values) => values.CopyTo(m.AsSpan((int)optimizer.OffsetOf(index[p]), size)));
                Collect(mats, size, owned, first, root, p => optimizer.MomentsOf(index[p]).V,
                    (p, values) => values.CopyTo(v.AsSpan((int)optimizer.OffsetOf(index[p]), size)));
            }
        if (root && moments) optimizer.SetGatheredMoments(m!, v!);
    }

    // One MPI_Gather: every rank sends its owned experts' arrays (read by `from`), consecutive; rank 0 of the group
    // receives all N_r and hands the ones it does not own to `to`.
    private void Collect(Parameter[] mats, int size, int owned, int first, bool root, Func<Parameter, float[]> from, Action<Parameter, ReadOnlySpan<float>> to)
    {
        if (_send.Length < owned * size) _send = new float[owned * size];
        for (int j = 0; j < owned; j++) from(mats[first + j]).AsSpan(0, size).CopyTo(_send.AsSpan(j * size, size));
        int all = mats.Length * size;
        if (root && _receive.Length < all) _receive = new float[all];
        _communication.Start();
        Group.Gather<float>(_send.AsSpan(0, owned * size), root ? _receive.AsSpan(0, all) : Span<float>.Empty);
        _communication.Stop();
        if (!root) return;
        for (int i = 0; i < mats.Length; i++)
            if (_elsewhere.Contains(mats[i])) to(mats[i], _receive.AsSpan(i * size, size));
    }

    /// <summary>Drops the experts <see cref="GatherWholeModel"/> brought to rank 0 (and the gather's buffers).</summary>
    public void ReleaseGathered()
    {
        foreach (var p in _elsewhere) p.ReleaseValues();
        _send = [];
        _receive = [];
    }

    /// <summary>Floats of routed-expert weights this rank holds now, and in the whole model.</summary>
    public (long Held, long Whole) ExpertFloats()
    {
        long held = 0, whole = 0;
        foreach (var moe in _layers)
            foreach (var expert in moe.Experts)
                foreach (var p in Matrices(expert))
                {
                    whole += p.Size;
                    if (p.HasValues) held += p.Size;
                }
        return (held, whole);
    }

    public void Dispose()
    {
        Replicas.Dispose();
        Group.Dispose();
    }
}
