using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>
/// Training's MoE runs many small experts side by side, one per thread (<see cref="Moe.SideBySidePerThread"/>), instead
/// of splitting each expert's GEMMs across threads: the same products row by row, so the losses and every gradient
/// equal those of one thread, where each expert runs alone.
/// </summary>
public sealed class MoeSideBySideTests
{
    [Fact]
    public void ExpertsSideBySideGiveTheGradientsOfOneThread()
    {
        var config = Presets.Get("train-36m");   // 64 experts, 6 per token: every expert is active in a 4 × 64 batch
        var (loss1, grads1) = Step(config, threads: 1);
        var (loss2, grads2) = Step(config, threads: 2);
        Assert.Equal(loss1, loss2, 12);
        Assert.Equal(grads1.Count, grads2.Count);
        foreach (var (name, g) in grads1) TestUtil.AssertClose(grads2[name], g, 1e-6, name);
    }

    private static (double Loss, Dictionary<string, float[]> Grads) Step(ModelConfig config, int threads)
    {
        var model = DeepSeekModel.Create(config);
        ModelInitializer.Initialize(model, 2);
        foreach (var p in model.Parameters) p.EnsureGrad();
        using var pool = new WorkerPool(threads);
        var ctx = new ForwardContext(pool) { SaveActivations = true };
        var state = model.CreateState();
        var rng = new Random(4);
        var tokens = Enumerable.Range(0, 4 * 64).Select(_ => rng.Next(config.VocabSize)).ToArray();
        model.Forward(ctx, tokens, new BatchLayout(4, 64), state, new ForwardRequest { RunMtp = true });
        int active = state.Layers[1].Moe.Counts.Count(c => c > 0);
        Assert.True(threads == 1 || active >= Moe.SideBySidePerThread * threads, $"only {active} experts active: the side-by-side path would not run");
        var (loss, grads) = TrainingLoss.Compute(ctx, model, state, new LossWeights { MtpLambda = 0.3 });
        model.Backward(ctx, state, grads.DLogits, grads.DMtpLogits, grads.Balance);
        return (loss.Total, model.NamedParameters().Where(p => p.Parameter.Grad is not null).ToDictionary(p => p.Name, p => (float[])p.Parameter.Grad!.Clone()));
    }
}
