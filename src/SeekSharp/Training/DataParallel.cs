using SeekSharp.Distributed;
using SeekSharp.Model;

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
/// <para>Gradients travel in buckets of about <see cref="BucketFloats"/> floats (one all-reduce per bucket, parameters
/// in a fixed order), after the backward pass. The expert loads of the bias update and MaxVio are summed over ranks
/// too, so every rank moves the biases the same way a single process would.</para>
/// </remarks>
public sealed class DataParallel
{
    /// <summary>Floats per gradient bucket: 4M (16 MiB).</summary>
    public const int BucketFloats = 1 << 22;

    private float[] _bucket = [];
    private readonly System.Diagnostics.Stopwatch _communication = new();

    /// <summary>Wall time this rank spent in the step's collectives (gradients, loads, loss), since it started.</summary>
    public TimeSpan CommunicationTime => _communication.Elapsed;

    public Communicator Communicator { get; }
    public int Rank => Communicator.Rank;
    public int Ranks => Communicator.Size;

    public DataParallel(Communicator communicator) => Communicator = communicator;

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

    /// <summary>Sums every gradient over the ranks, in place, bucket by bucket.</summary>
    public void AllReduceGradients(IReadOnlyList<Parameter> parameters)
    {
        _communication.Start();
        int start = 0;
        while (start < parameters.Count)
        {
            // Fill a bucket with whole gradients (a gradient larger than a bucket goes alone, reduced in place).
            int end = start, floats = 0;
            while (end < parameters.Count && (end == start || floats + parameters[end].Grad!.Length <= BucketFloats))
                floats += parameters[end++].Grad!.Length;
            if (end - start == 1)
                Communicator.AllReduceSum<float>(parameters[start].Grad!);
            else
            {
                if (_bucket.Length < floats) _bucket = new float[floats];
                int at = 0;
                for (int i = start; i < end; i++) { parameters[i].Grad!.CopyTo(_bucket, at); at += parameters[i].Grad!.Length; }
                Communicator.AllReduceSum(_bucket.AsSpan(0, floats));
                at = 0;
                for (int i = start; i < end; i++) { var g = parameters[i].Grad!; _bucket.AsSpan(at, g.Length).CopyTo(g); at += g.Length; }
            }
            start = end;
        }
        _communication.Stop();
    }

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
