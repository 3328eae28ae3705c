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
/// expert's gradient is complete on its owner (it ran on the rows of the whole group) and is summed only over its
/// replicas. Other ranks hold a copy of every expert but never compute it; its gradient there is zero.</para>
/// <para>The gradient norm for clipping is the global one: each tensor's Σg², in double, is taken from a rank that
/// computed it (an all-reduce of maxima: the owner's value, or zero), then summed in parameter order as one process
/// does. The optimiser runs unclipped on gradients already scaled by the clip factor, which gives the same floats.</para>
/// <para>Before a checkpoint or an evaluation, <see cref="Gather"/> copies every expert's weights and optimiser moments
/// from its owner to the other ranks of its group, so rank 0 writes and evaluates the whole, current model, and a run
/// resumes on any number of ranks.</para>
/// </remarks>
public sealed class ExpertParallel : IDisposable
{
    private readonly Stopwatch _communication = new();
    private readonly List<(Parameter Parameter, int Owner)> _experts = new();   // every routed expert's matrices
    private readonly List<Parameter> _replicated = new();
    private readonly List<Parameter> _owned = new();
    private DataParallel? _replicaGradients;

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

    /// <summary>Splits <paramref name="model"/>'s routed experts over <see cref="Group"/> (refused when they cannot split).</summary>
    public void Attach(DeepSeekModel model, Optimizer optimizer)
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
            for (int i = 0; i < moe.Experts.Length; i++)
                foreach (var p in new[] { moe.Experts[i].Gate, moe.Experts[i].Up, moe.Experts[i].Down })
                {
                    _experts.Add((p, Dispatch.OwnerOf(i)));
                    expertSet.Add(p);
                    if (Dispatch.OwnerOf(i) == Group.Rank) _owned.Add(p);
                }
        }
        _replicated.AddRange(optimizer.Parameters.Where(p => !expertSet.Contains(p)));
        if (Replicas.Size > 1) _replicaGradients = new DataParallel(Replicas, overlap: false);
    }

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
            foreach (var g in parameters[i].Grad!) s += (double)g * g;
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
                var g = p.Grad!;
                for (int i = 0; i < g.Length; i++) g[i] *= clip;
            }
        }
        optimizer.Step(pool, lr);
        return norm;
    }

    /// <summary>
    /// Copies every routed expert's weights and optimiser moments from its owner to the other ranks of its group (a
    /// collective): afterwards every rank holds the whole model and optimiser state, as one process would.
    /// </summary>
    public void Gather(Optimizer optimizer)
    {
        using var saved = new MemoryStream();
        using (var w = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.Save(w);
        var bytes = saved.GetBuffer();
        var moments = MomentOffsets(bytes, (int)saved.Length);
        foreach (var (p, owner) in _experts)
        {
            Group.Broadcast<float>(p.Data!, owner);
            if (moments.TryGetValue(p.Name, out var at))
            {
                Group.Broadcast(bytes.AsSpan(at.M, at.Bytes), owner);
                Group.Broadcast(bytes.AsSpan(at.V, at.Bytes), owner);
            }
        }
        using (var r = new BinaryReader(new MemoryStream(bytes, 0, (int)saved.Length))) optimizer.Load(r);
    }

    // Where each parameter's first and second moments lie in Optimizer.Save's bytes: the step count, the parameter
    // count, then per parameter its name, and m and v as (length, float32 values).
    private static Dictionary<string, (int M, int V, int Bytes)> MomentOffsets(byte[] bytes, int length)
    {
        var result = new Dictionary<string, (int, int, int)>();
        using var r = new BinaryReader(new MemoryStream(bytes, 0, length));
        r.ReadInt64();
        int count = r.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            string name = r.ReadString();
            int m = r.ReadInt32() * sizeof(float), mAt = (int)r.BaseStream.Position;
            r.BaseStream.Position += m;
            int v = r.ReadInt32() * sizeof(float), vAt = (int)r.BaseStream.Position;
            r.BaseStream.Position += v;
            if (m > 0 && m == v) result[name] = (mAt, vAt, m);
        }
        return result;
    }

    public void Dispose()
    {
        Replicas.Dispose();
        Group.Dispose();
    }
}
