using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>
/// The loss of a batch split into shards (data parallelism, <see cref="TrainingLoss.Normalizer"/>): each shard divides
/// by the whole batch's counts, so the shards' losses add up to the batch's loss and each shard's gradient rows are
/// the batch's rows. With a target mask (chat data) the shards score different numbers of tokens; the global counts
/// still decide.
/// </summary>
public sealed class ShardedLossTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ShardsOfABatchAddUpToTheBatch(bool masked)
    {
        var model = DeepSeekModel.Create(Presets.Get("tiny"));
        ModelInitializer.Initialize(model, 3);
        int b = 4, t = 16, v = model.Config.VocabSize;
        var rng = new Random(7);
        var tokens = Enumerable.Range(0, b * t).Select(_ => rng.Next(v)).ToArray();
        // Sequence 0 has many targets, sequence 3 few: the shards' own counts differ from their share of the global count.
        byte[] mask = masked ? Enumerable.Range(0, b * t).Select(i => (byte)(rng.Next(4) < 3 - i / t ? 1 : 0)).ToArray() : [];
        var weights = new LossWeights { MtpLambda = 0.3, BalanceAlpha = 1e-2 };
        using var pool = new WorkerPool(1);

        var (full, fullGrads) = Loss(model, pool, tokens, mask, new BatchLayout(b, t), weights, null);
        var normalizer = TrainingLoss.NormalizerOf(model, weights, mask, b, t);
        double main = 0, mtp = 0, balance = 0, total = 0;
        for (int shard = 0; shard < 2; shard++)
        {
            var rows = new Range(shard * 2 * t, (shard + 1) * 2 * t);
            var (part, grads) = Loss(model, pool, tokens[rows], masked ? mask[rows] : [], new BatchLayout(2, t), weights, normalizer);
            main += part.Main; mtp += part.Mtp; balance += part.Balance; total += part.Total;
            TestUtil.AssertClose(grads.DLogits, fullGrads.DLogits.AsSpan(shard * 2 * t * v, 2 * t * v), 1e-5, $"dLogits of shard {shard}");
            int mtpRows = (t - 1) * v;   // the MTP module has T−1 rows per sequence
            TestUtil.AssertClose(grads.DMtp, fullGrads.DMtp.AsSpan(shard * 2 * mtpRows, 2 * mtpRows), 1e-5, $"MTP dLogits of shard {shard}");
            foreach (var (layer, g) in grads.Balance)
                TestUtil.AssertClose(g, fullGrads.Balance[layer].AsSpan(shard * 2 * g.Length / 2, g.Length), 1e-6, $"balance gradient of layer {layer}");
        }
        // The shards' forwards run smaller GEMMs than the batch's, so logits (and losses) differ in the last float bits.
        Close(full.Main, main, "main loss");
        Close(full.Mtp, mtp, "MTP loss");
        Close(full.Balance, balance, "balance loss");
        Close(full.Total, total, "total loss");
    }

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-6 * Math.Abs(expected), $"{what}: {actual} against {expected}");

    private static (LossResult Loss, (float[] DLogits, float[] DMtp, Dictionary<int, float[]> Balance) Grads) Loss(
        DeepSeekModel model, WorkerPool pool, int[] tokens, byte[] mask, BatchLayout layout, LossWeights weights, TrainingLoss.Normalizer? normalizer)
    {
        var ctx = new ForwardContext(pool) { SaveActivations = true };
        var state = model.CreateState();
        model.Forward(ctx, tokens, layout, state, new ForwardRequest { RunMtp = true });
        var (loss, grads) = TrainingLoss.Compute(ctx, model, state, weights, targetMask: mask, normalizer: normalizer);
        return (loss, (grads.DLogits.Span.ToArray(), grads.DMtpLogits[0].Span.ToArray(), grads.Balance));
    }
}
