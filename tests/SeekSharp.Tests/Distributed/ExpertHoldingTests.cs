using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Distributed;

/// <summary>
/// The optimiser of an expert-parallel rank, in one process without MPI (docs/distributed.md, "Memory: each rank holds
/// its own experts"): two ranks that each hold the replicated parameters and half of the routed experts update what
/// they hold bitwise as one optimiser over the whole model does, keep no moments for the rest, save the whole state
/// once the other rank's expert moments are filled in, and load a whole state keeping their own part.
/// </summary>
public sealed class ExpertHoldingTests
{
    private static readonly OptimizerOptions Adam = new() { WeightDecay = 0.1, GradClip = 0 };

    private static DeepSeekModel TinyModel()
    {
        var m = DeepSeekModel.Create(Presets.Get("tiny") with { VocabSize = 64, NumHiddenLayers = 2 });
        ModelInitializer.Initialize(m, 1);
        foreach (var p in m.Parameters) p.EnsureGrad();
        return m;
    }

    // The routed experts' matrices rank `rank` of 2 does not own (experts [8·(1 − rank), …) of the 16 in each MoE layer).
    private static HashSet<Parameter> OwnedElsewhere(DeepSeekModel model, int rank)
    {
        var set = new HashSet<Parameter>();
        var layers = model.Layers.Select(l => l.Moe).Concat(model.Mtp.Select(m => m.Layer.Moe)).OfType<Moe>();
        foreach (var moe in layers)
            for (int e = 0; e < moe.Experts.Length; e++)
                if (e / (moe.Experts.Length / 2) != rank)
                    foreach (var p in new[] { moe.Experts[e].Gate, moe.Experts[e].Up, moe.Experts[e].Down }) set.Add(p);
        return set;
    }

    private static (DeepSeekModel Model, Optimizer Optimizer, HashSet<Parameter> Elsewhere) Rank(int rank)
    {
        var model = TinyModel();
        var elsewhere = OwnedElsewhere(model, rank);
        foreach (var p in elsewhere) p.ReleaseValues();   // what ExpertParallel.Attach does
        return (model, new Optimizer(model, Adam, holds: p => !elsewhere.Contains(p)), elsewhere);
    }

    [Fact]
    public void TwoRanksUpdateWhatTheyHoldAsOneOptimizerAndSaveTheWholeState()
    {
        var reference = TinyModel();
        var whole = new Optimizer(reference, Adam);
        var ranks = new[] { Rank(0), Rank(1) };
        Assert.NotEmpty(ranks[0].Elsewhere);
        Assert.False(ranks[0].Optimizer.HoldsAll);
        using var pool = new WorkerPool(2);
        var rng = new Random(7);
        for (int step = 1; step <= 3; step++)
        {
            for (int i = 0; i < whole.Parameters.Count; i++)
            {
                var g = whole.Parameters[i].Grad!;
                for (int k = 0; k < g.Length; k++) g[k] = (float)(rng.NextDouble() - 0.5) * (k % 5 == 0 ? 1e-6f : 1f);
                foreach (var r in ranks)
                    if (r.Optimizer.Parameters[i].Grad is { } held) g.CopyTo(held, 0);
            }
            whole.Step(pool, 1e-2);
            foreach (var r in ranks) r.Optimizer.Step(pool, 1e-2);
        }
        for (int i = 0; i < whole.Parameters.Count; i++)
        {
            var expected = whole.Parameters[i];
            int holders = 0;
            foreach (var r in ranks)
            {
                var p = r.Optimizer.Parameters[i];
                if (r.Elsewhere.Contains(p))
                {
                    Assert.False(p.HasValues, $"{p.Name} is owned by the other rank but holds values");
                    Assert.Null(p.Grad);
                    Assert.Empty(r.Optimizer.MomentsOf(i).M);
                    continue;
                }
                holders++;
                Assert.True(expected.Data.AsSpan().SequenceEqual(p.Data), $"{p.Name} differs from the whole model's update");
            }
            Assert.True(holders >= 1, $"no rank holds {expected.Name}");
        }
        // Each rank keeps the replicated parameters' moments and half of the experts'.
        long replicated = Enumerable.Range(0, whole.Parameters.Count)
            .Where(i => ranks.All(r => !r.Elsewhere.Contains(r.Optimizer.Parameters[i]))).Sum(i => (long)whole.Parameters[i].Size);
        Assert.True(ranks[0].Optimizer.StateBytes < whole.StateBytes);
        Assert.Equal(whole.StateBytes + replicated * 2 * sizeof(float), ranks[0].Optimizer.StateBytes + ranks[1].Optimizer.StateBytes);

        // Rank 0 refuses to save what it does not hold; with rank 1's expert moments filled in, it writes the whole state.
        byte[] expectedState = Save(whole);
        Assert.Throws<InvalidOperationException>(() => Save(ranks[0].Optimizer));
        var (m, v) = ranks[0].Optimizer.HeldMomentsFlattened();
        var other = ranks[1].Optimizer;
        for (int i = 0; i < other.Parameters.Count; i++)
            if (ranks[0].Elsewhere.Contains(ranks[0].Optimizer.Parameters[i]))
            {
                other.MomentsOf(i).M.CopyTo(m, other.OffsetOf(i));
                other.MomentsOf(i).V.CopyTo(v, other.OffsetOf(i));
            }
        ranks[0].Optimizer.SetGatheredMoments(m, v);
        Assert.Equal(expectedState, Save(ranks[0].Optimizer));

        // The whole state loads into a rank (a run resumed with --parallel ep), which keeps the moments of what it holds.
        var resumed = Rank(1);
        resumed.Optimizer.Load(new BinaryReader(new MemoryStream(expectedState)));
        Assert.Equal(3, resumed.Optimizer.StepCount);
        for (int i = 0; i < whole.Parameters.Count; i++)
        {
            Assert.Equal(other.MomentsOf(i).M, resumed.Optimizer.MomentsOf(i).M);
            Assert.Equal(other.MomentsOf(i).V, resumed.Optimizer.MomentsOf(i).V);
        }
    }

    private static byte[] Save(Optimizer o)
    {
        var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) o.Save(w);
        return stream.ToArray();
    }
}
