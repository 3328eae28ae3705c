using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Distributed;

/// <summary>
/// ZeRO-1's optimiser shards in one process, without MPI (docs/distributed.md): two shards, each updating its slice of
/// the flattened parameters with its own moments, give bitwise the weights of one unsharded AdamW (the update is
/// elementwise); their moments, gathered, save bitwise the unsharded state, and a whole state loads into shards.
/// </summary>
public sealed class ZeroShardTests
{
    private static DeepSeekModel TinyModel()
    {
        var m = DeepSeekModel.Create(Presets.Get("tiny") with { VocabSize = 64, NumHiddenLayers = 2 });
        ModelInitializer.Initialize(m, 1);
        foreach (var p in m.Parameters) p.EnsureGrad();
        return m;
    }

    private static readonly OptimizerOptions Adam = new() { WeightDecay = 0.1, GradClip = 0 };

    [Fact]
    public void TheShardsCoverTheParametersOnceAndHoldHalfTheState()
    {
        var model = TinyModel();
        var whole = new Optimizer(model, Adam);
        var shards = new[] { new Optimizer(model, Adam, new OptimizerShard(0, 2)), new Optimizer(model, Adam, new OptimizerShard(1, 2)) };
        long block = OptimizerShard.BlockOf(whole.FlatSize, 2);
        Assert.Equal((0L, block), shards[0].Owned);
        Assert.Equal((block, whole.FlatSize), shards[1].Owned);
        Assert.Equal(whole.FullStateBytes, whole.StateBytes);
        Assert.Equal(whole.StateBytes, shards[0].StateBytes + shards[1].StateBytes);
        Assert.Equal(block * 2 * sizeof(float), shards[0].StateBytes);
        for (int i = 0; i < whole.Parameters.Count; i++)
            Assert.Equal(whole.Parameters[i].Size, shards[0].OwnedPart(i).Length + shards[1].OwnedPart(i).Length);
        // Three ranks: the last block is short, none is empty here, and together they still cover every float.
        var thirds = Enumerable.Range(0, 3).Select(r => new Optimizer(model, Adam, new OptimizerShard(r, 3))).ToArray();
        Assert.Equal(whole.StateBytes, thirds.Sum(o => o.StateBytes));
    }

    [Fact]
    public void TwoShardsStepBitwiseAsOneOptimizerAndSaveTheSameState()
    {
        var reference = TinyModel();
        var models = new[] { TinyModel(), TinyModel() };
        var whole = new Optimizer(reference, Adam);
        var shards = new[] { new Optimizer(models[0], Adam, new OptimizerShard(0, 2)), new Optimizer(models[1], Adam, new OptimizerShard(1, 2)) };
        using var pool = new WorkerPool(2);
        var rng = new Random(3);
        for (int step = 1; step <= 3; step++)
        {
            for (int i = 0; i < whole.Parameters.Count; i++)
            {
                var g = whole.Parameters[i].Grad!;
                for (int k = 0; k < g.Length; k++) g[k] = (float)(rng.NextDouble() - 0.5) * (k % 7 == 0 ? 1e-6f : 1f);
                foreach (var s in shards) g.CopyTo(s.Parameters[i].Grad!, 0);
            }
            whole.Step(pool, 1e-2);
            foreach (var s in shards) s.Step(pool, 1e-2, squares => squares);   // no clipping: the norm is only reported
            // The all-gather: each shard's updated slice goes to the other.
            for (int i = 0; i < whole.Parameters.Count; i++)
                for (int r = 0; r < 2; r++)
                {
                    var (start, length) = shards[r].OwnedPart(i);
                    shards[r].Parameters[i].Data.AsSpan(start, length).CopyTo(shards[1 - r].Parameters[i].Data.AsSpan(start, length));
                }
        }
        for (int i = 0; i < whole.Parameters.Count; i++)
            Assert.True(whole.Parameters[i].Data.AsSpan().SequenceEqual(shards[0].Parameters[i].Data), $"{whole.Parameters[i].Name} differs from the unsharded update");

        // The state: a sharded optimiser refuses to save its slice alone; gathered, it writes the unsharded bytes.
        byte[] expected = Save(whole);
        Assert.Throws<InvalidOperationException>(() => Save(shards[0]));
        var (m, v) = Gathered(shards);
        shards[0].SetGatheredMoments(m, v);
        Assert.Equal(expected, Save(shards[0]));

        // A whole state loads into new shards (say, a run resumed with --zero 1), each keeping its own slice.
        var loaded = new[] { new Optimizer(models[0], Adam, new OptimizerShard(0, 2)), new Optimizer(models[1], Adam, new OptimizerShard(1, 2)) };
        foreach (var o in loaded) o.Load(new BinaryReader(new MemoryStream(expected)));
        Assert.Equal(3, loaded[1].StepCount);
        var (m2, v2) = Gathered(loaded);
        Assert.Equal(m, m2);
        Assert.Equal(v, v2);
    }

    private static byte[] Save(Optimizer o)
    {
        var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) o.Save(w);
        return stream.ToArray();
    }

    // What DataParallel.GatherOptimizerState builds on rank 0: each shard's moments in its block.
    private static (float[] M, float[] V) Gathered(Optimizer[] shards)
    {
        int block = (int)OptimizerShard.BlockOf(shards[0].FlatSize, shards.Length);
        var (m, v) = (new float[block * shards.Length], new float[block * shards.Length]);
        for (int r = 0; r < shards.Length; r++) shards[r].CopyOwnedMoments(m.AsSpan(r * block, block), v.AsSpan(r * block, block));
        return (m, v);
    }
}
