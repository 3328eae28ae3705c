using SeekSharp.Distributed;
using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Training;

/// <summary>
/// Data parallelism over the ranks of an MPI job (docs/distributed.md): every rank holds the whole model and optimiser
/// state, reads the same global batch and trains on its own contiguous share of the sequences; the gradients are then
/// summed over ranks, so every rank takes the same optimiser step and the weights stay identical.
/// </summary>
/// <remarks>
/// <para>Each shard's loss divides by the global batch's counts (<see cref="TrainingLoss.Normalizer"/>), so the sum
/// of the shards' gradients is the global batch's gradient. It differs from one process's only in the order of the
/// float additions: one process sums a weight's gradient over all rows inside one GEMM, N ranks sum N partial GEMMs.</para>
/// <para>Gradients travel in buckets of about <see cref="BucketFloats"/> floats, one all-reduce per bucket. The buckets
/// hold the parameters in the order the backward pass completes them (the last layer's first, the embedding last), and
/// with <see cref="Overlaps"/> a communication thread all-reduces each bucket as soon as the backward pass has finished
/// its layers, while the earlier layers' backward goes on. Bucket contents and order are fixed, so the sums are the same
/// whether or not they overlap. The expert loads of the bias update and MaxVio are summed over ranks too, so every rank
/// moves the biases the same way a single process would.</para>
/// <para>With <see cref="ShardsOptimizer"/> (ZeRO-1) each rank keeps AdamW's moments for its own contiguous slice of
/// the flattened parameters (<see cref="OptimizerShard"/>): the gradients are reduce-scattered (each rank receives the
/// sum of its slice only), each rank updates its slice, and an all-gather gives every rank all the new weights.</para>
/// </remarks>
public sealed class DataParallel
{
    /// <summary>Floats per gradient bucket: 4M (16 MiB).</summary>
    public const int BucketFloats = 1 << 22;

    private readonly System.Diagnostics.Stopwatch _communication = new();
    private readonly System.Diagnostics.Stopwatch _background = new();
    private Optimizer? _optimizer;
    private GradientBucket[] _buckets = [];
    private int _launched;                 // buckets handed to the communication thread this step
    private int _waited;                   // of those, completions the training thread has waited for
    private Thread? _thread;
    private readonly System.Collections.Concurrent.BlockingCollection<GradientBucket> _queue = new();
    private readonly SemaphoreSlim _completed = new(0);
    private Exception? _failure;           // a collective that failed on the communication thread
    private float[] _flat = [], _own = []; // ZeRO-1: [Ranks · block] and [block] floats
    private float[] _listBucket = [];      // [≤ BucketSize] floats: AllReduceGradients(parameters)

    /// <summary>
    /// Wall time the training thread spent in the step's collectives (gradients, loads, loss), or waiting for the
    /// communication thread to finish them, since it started: the communication the step did not hide.
    /// </summary>
    public TimeSpan CommunicationTime => _communication.Elapsed;

    /// <summary>Wall time the communication thread spent all-reducing gradient buckets (hidden or not).</summary>
    public TimeSpan BackgroundCommunicationTime => _background.Elapsed;

    public Communicator Communicator { get; }
    public int Rank => Communicator.Rank;
    public int Ranks => Communicator.Size;
    /// <summary>ZeRO-1: each rank keeps and updates the optimiser state of its own slice of the parameters.</summary>
    public bool ShardsOptimizer { get; }
    /// <summary>
    /// Gradient buckets are all-reduced on a communication thread during the backward pass: asked for, more than one
    /// rank, MPI allows calls from any thread (MPI_THREAD_SERIALIZED), and no ZeRO-1 (whose reduce-scatter runs after
    /// the backward pass).
    /// </summary>
    public bool Overlaps { get; }

    /// <summary>The optimiser's shard on this rank under ZeRO-1, or null when every rank holds the whole state.</summary>
    public OptimizerShard? OptimizerShard => ShardsOptimizer ? new OptimizerShard(Rank, Ranks) : null;

    /// <summary>Floats per gradient bucket of this job (<see cref="BucketFloats"/> unless chosen).</summary>
    public int BucketSize { get; }

    public DataParallel(Communicator communicator, bool shardOptimizer = false, bool overlap = true, int bucketFloats = BucketFloats)
    {
        if (bucketFloats < 1) throw new InvalidInputException($"A gradient bucket must hold at least one float, not {bucketFloats}.");
        Communicator = communicator;
        BucketSize = bucketFloats;
        ShardsOptimizer = shardOptimizer;
        Overlaps = overlap && !shardOptimizer && communicator.Size > 1 && communicator.AnyThreadMayCall;
    }

    // Gradients all-reduced together (packed into Buffer [Floats] unless there is one) once the backward pass has
    // finished layer ReadyAt (−1: once it has finished altogether).
    private sealed record GradientBucket(Parameter[] Parameters, int Floats, int ReadyAt)
    {
        // Allocated on first use: under expert parallelism the buckets are planned but never used.
        public float[] Buffer => field ??= Parameters.Length > 1 ? new float[Floats] : [];
    }

    /// <summary>
    /// Plans the gradient buckets for <paramref name="optimizer"/>'s parameters: in the order the backward pass completes
    /// them (the head, final norm and MTP modules with the last layer, then layer by layer down, the embedding last),
    /// about <see cref="BucketSize"/> floats each. Called once, by the trainer.
    /// </summary>
    public void Attach(DeepSeekModel model, Optimizer optimizer)
    {
        if (ShardsOptimizer && optimizer.Shard != OptimizerShard)
            throw new InvalidOperationException("Under ZeRO-1 the optimiser must be built with this rank's shard (DataParallel.OptimizerShard).");
        _optimizer = optimizer;
        int layers = model.Config.NumHiddenLayers;
        int ReadyAt(Parameter p)
        {
            if (ReferenceEquals(p, model.Embed)) return -1;
            for (int l = 0; l < layers; l++)
                if (p.Name.StartsWith(CheckpointLayout.LayerPrefix(l), StringComparison.Ordinal)) return l;
            return layers - 1;   // head, final norm, MTP modules: their backward runs before the layers'
        }
        var ordered = optimizer.Parameters.Select((p, i) => (p, i, At: ReadyAt(p))).OrderByDescending(x => x.At).ThenBy(x => x.i).ToList();
        var buckets = new List<GradientBucket>();
        for (int start = 0; start < ordered.Count;)
        {
            // Fill a bucket with whole gradients (a gradient larger than a bucket goes alone, reduced in place).
            int end = start, floats = 0;
            while (end < ordered.Count && (end == start || floats + ordered[end].p.Size <= BucketSize))
                floats += ordered[end++].p.Size;
            buckets.Add(new GradientBucket(ordered[start..end].Select(x => x.p).ToArray(), floats, ordered[end - 1].At));
            start = end;
        }
        _buckets = [.. buckets];
    }

    /// <summary>The number of gradient buckets (in the order they are all-reduced).</summary>
    public int Buckets => _buckets.Length;

    // Expert parallelism (issue 12 point 3): set when the routed experts are split over the ranks (ExpertParallel.cs).
    /// <summary>The expert-parallel layout of this job, or null when every rank holds and trains every expert.</summary>
    public ExpertParallel? Experts { get; init; }

    /// <summary>Checks that a global batch of <paramref name="batchSize"/> sequences splits evenly over the ranks.</summary>
    public void CheckBatch(int batchSize)
    {
        if (batchSize % Ranks != 0)
            throw new InvalidInputException($"--batch-size {batchSize} does not split over {Ranks} data-parallel ranks: use a multiple of {Ranks}.");
    }

    /// <summary>This rank's sequences of a global batch: [rank·B/N, (rank+1)·B/N).</summary>
    public (int First, int Count) Share(int batchSize) => (Rank * (batchSize / Ranks), batchSize / Ranks);

    /// <summary>Before the backward pass: no bucket of this step is launched yet.</summary>
    public void BeginBackward()
    {
        _launched = 0;
        _waited = 0;
    }

    /// <summary>
    /// The backward pass's hook: layer <paramref name="layer"/> (and every one after it) has its gradients. With
    /// <see cref="Overlaps"/>, hands every bucket that is now complete to the communication thread.
    /// </summary>
    public void LayerBackwardDone(int layer)
    {
        if (!Overlaps) return;
        while (_launched < _buckets.Length && _buckets[_launched].ReadyAt >= layer) Launch(_buckets[_launched++]);
    }

    /// <summary>
    /// After the backward pass: sums the gradients over the ranks. Plain data parallelism all-reduces every bucket
    /// (those not yet launched by <see cref="LayerBackwardDone"/>, then waits for all); ZeRO-1 reduce-scatters, so that
    /// each rank holds the sum of its own slice only.
    /// </summary>
    public void ReduceGradients()
    {
        var optimizer = _optimizer ?? throw new InvalidOperationException("DataParallel.Attach was not called.");
        if (ShardsOptimizer) { ReduceScatterGradients(optimizer); return; }
        if (!Overlaps) { AllReduceGradients(); return; }
        while (_launched < _buckets.Length) Launch(_buckets[_launched++]);
        _communication.Start();
        while (_waited < _launched) { _completed.Wait(); _waited++; }
        _communication.Stop();
        if (Interlocked.Exchange(ref _failure, null) is { } e) throw new DistributedException($"All-reducing gradients failed: {e.Message}", e);
    }

    /// <summary>Sums every gradient over the ranks, in place, bucket by bucket, on this thread.</summary>
    public void AllReduceGradients()
    {
        _communication.Start();
        foreach (var bucket in _buckets) AllReduce(bucket);
        _communication.Stop();
    }

    /// <summary>
    /// Sums the gradients of <paramref name="parameters"/> over the ranks, in place, in buckets of about
    /// <see cref="BucketSize"/> floats in the order given, on this thread (expert parallelism: the replicated parameters,
    /// or one group's experts over their replicas).
    /// </summary>
    public void AllReduceGradients(IReadOnlyList<Parameter> parameters)
    {
        _communication.Start();
        for (int start = 0; start < parameters.Count;)
        {
            // Fill a bucket with whole gradients (a gradient larger than a bucket goes alone, reduced in place).
            int end = start, floats = 0;
            while (end < parameters.Count && (end == start || floats + parameters[end].Size <= BucketSize))
                floats += parameters[end++].Size;
            if (end - start == 1) Communicator.AllReduceSum<float>(parameters[start].Grad!);
            else
            {
                if (_listBucket.Length < floats) _listBucket = new float[floats];
                int at = 0;
                for (int i = start; i < end; i++) { parameters[i].Grad!.CopyTo(_listBucket, at); at += parameters[i].Size; }
                Communicator.AllReduceSum(_listBucket.AsSpan(0, floats));
                at = 0;
                for (int i = start; i < end; i++) { _listBucket.AsSpan(at, parameters[i].Size).CopyTo(parameters[i].Grad); at += parameters[i].Size; }
            }
            start = end;
        }
        _communication.Stop();
    }

    private void AllReduce(GradientBucket bucket)
    {
        if (bucket.Parameters.Length == 1) { Communicator.AllReduceSum<float>(bucket.Parameters[0].Grad!); return; }
        int at = 0;
        foreach (var p in bucket.Parameters) { p.Grad!.CopyTo(bucket.Buffer, at); at += p.Size; }
        Communicator.AllReduceSum<float>(bucket.Buffer);
        at = 0;
        foreach (var p in bucket.Parameters) { bucket.Buffer.AsSpan(at, p.Size).CopyTo(p.Grad); at += p.Size; }
    }

    // Hands a bucket to the communication thread (started on first use), which all-reduces buckets in the order given:
    // the same on every rank, as MPI needs.
    private void Launch(GradientBucket bucket)
    {
        if (_thread is null)
        {
            _thread = new Thread(CommunicationLoop) { IsBackground = true, Name = "SeekSharp gradient all-reduce" };
            _thread.Start();
        }
        _queue.Add(bucket);
    }

    private void CommunicationLoop()
    {
        foreach (var bucket in _queue.GetConsumingEnumerable())
        {
            try
            {
                if (Volatile.Read(ref _failure) is null)
                {
                    _background.Start();
                    AllReduce(bucket);
                    _background.Stop();
                }
            }
            catch (Exception e)
            {
                _background.Stop();
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            _completed.Release();
        }
    }

    // ZeRO-1: [Ranks · block] floats of gradients (zero-padded) → this rank's block of their sum, copied into the owned
    // part of each gradient.
    private void ReduceScatterGradients(Optimizer optimizer)
    {
        int block = checked((int)OptimizerShard!.Value.BlockOfRank(optimizer.FlatSize));
        if (_own.Length != block) { _own = new float[block]; _flat = new float[checked(block * Ranks)]; }
        for (int i = 0; i < optimizer.Parameters.Count; i++)
            optimizer.Parameters[i].Grad!.CopyTo(_flat, (int)optimizer.OffsetOf(i));
        _communication.Start();
        Communicator.ReduceScatterSum<float>(_flat, _own);
        _communication.Stop();
        int at = 0;
        for (int i = 0; i < optimizer.Parameters.Count; i++)
        {
            var (start, length) = optimizer.OwnedPart(i);
            _own.AsSpan(at, length).CopyTo(optimizer.Parameters[i].Grad.AsSpan(start, length));
            at += length;
        }
    }

    /// <summary>
    /// The optimiser step: the optimiser's own without ZeRO-1; with it, each rank updates its slice (the gradient norm
    /// summed over the slices) and an all-gather gives every rank every updated weight. Returns the pre-clip norm.
    /// </summary>
    public double Step(WorkerPool pool, double lr)
    {
        var optimizer = _optimizer ?? throw new InvalidOperationException("DataParallel.Attach was not called.");
        if (!ShardsOptimizer) return optimizer.Step(pool, lr);
        double norm = optimizer.Step(pool, lr, squares =>
        {
            Span<double> sum = [squares];
            _communication.Start();
            Communicator.AllReduceSum(sum);
            _communication.Stop();
            return sum[0];
        });
        int block = _own.Length;
        for (int i = 0, at = Rank * block; i < optimizer.Parameters.Count; i++)
        {
            var (start, length) = optimizer.OwnedPart(i);
            optimizer.Parameters[i].Data.AsSpan(start, length).CopyTo(_flat.AsSpan(at));
            at += length;
        }
        _communication.Start();
        Communicator.AllGatherInPlace<float>(_flat);
        _communication.Stop();
        for (int i = 0; i < optimizer.Parameters.Count; i++)
            _flat.AsSpan((int)optimizer.OffsetOf(i), optimizer.Parameters[i].Size).CopyTo(optimizer.Parameters[i].Data);
        return norm;
    }

    /// <summary>
    /// Before rank 0 saves the training state (every rank calls it): under ZeRO-1 with AdamW, gathers every rank's
    /// moments on rank 0 so that it writes the whole model's state, which resumes on any number of ranks, with or
    /// without ZeRO-1. Otherwise nothing to do.
    /// </summary>
    public void GatherOptimizerState()
    {
        var optimizer = _optimizer ?? throw new InvalidOperationException("DataParallel.Attach was not called.");
        if (!ShardsOptimizer || optimizer.Options.Kind != OptimizerKind.AdamW) return;
        int block = checked((int)OptimizerShard!.Value.BlockOfRank(optimizer.FlatSize));
        var (m, v) = (new float[block], new float[block]);
        optimizer.CopyOwnedMoments(m, v);
        var (allM, allV) = IsRootRank ? (new float[block * Ranks], new float[block * Ranks]) : ([], []);
        Communicator.Gather<float>(m, allM);   // checkpoint time, not step time: not in CommunicationTime
        Communicator.Gather<float>(v, allV);
        if (IsRootRank) optimizer.SetGatheredMoments(allM, allV);
    }

    private bool IsRootRank => Rank == 0;

    /// <summary>Each MoE layer's expert loads summed over ranks, with MaxVio recomputed from the global loads.</summary>
    public List<ExpertBiasBalancer.LayerBalance> AllReduceLoads(List<ExpertBiasBalancer.LayerBalance> local)
    {
        _communication.Start();
        var result = new List<ExpertBiasBalancer.LayerBalance>(local.Count);
        foreach (var layer in local)
        {
            var loads = (int[])layer.Loads.Clone();
            Communicator.AllReduceSum<int>(loads);
            result.Add(ExpertBiasBalancer.LayerBalance.Of(layer.Layer, loads));
        }
        _communication.Stop();
        return result;
    }

    /// <summary>The global loss: the sum of the shards' parts (each already divided by the global counts).</summary>
    public LossResult AllReduceLoss(LossResult local, int globalTargets)
    {
        Span<double> parts = [local.Total, local.Main, local.Mtp, local.Balance];
        _communication.Start();
        Communicator.AllReduceSum(parts);
        _communication.Stop();
        return new LossResult { Total = parts[0], Main = parts[1], Mtp = parts[2], Balance = parts[3], Tokens = globalTargets };
    }
}
