using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Training;

/// <summary>
/// Central finite differences of the full training loss against the backward pass, on small random models of each
/// variant: every parameter tensor (so every module's backward) is probed at its largest-gradient entries and at
/// random ones. A probe whose perturbation changes an expert choice is skipped: the loss is not differentiable there.
/// </summary>
public class FiniteDifferenceTests(ITestOutputHelper output)
{
    private static readonly WorkerPool Pool = new(2);

    private static ModelConfig Config(string variant) => Presets.Get("tiny") with
    {
        VocabSize = 64,
        HiddenSize = 32,
        IntermediateSize = 48,
        MoeIntermediateSize = 16,
        NumHiddenLayers = 2,
        NumAttentionHeads = 2,
        KvLoraRank = 16,
        QkNopeHeadDim = 8,
        QkRopeHeadDim = 4,
        VHeadDim = 8,
        NRoutedExperts = 8,
        NumExpertsPerTok = 2,
        NGroup = variant == "softmax" ? 1 : 4,
        TopkGroup = variant == "softmax" ? 1 : 2,
        QLoraRank = variant == "no-q-lora" ? null : 24,
        ScoringFuncName = variant == "softmax" ? "softmax" : "sigmoid",
        TopkMethodName = variant == "softmax" ? "greedy" : "noaux_tc",
        NormTopkProb = variant != "softmax",
        MaxPositionEmbeddings = 64,
        RopeScaling = Presets.Get("tiny").RopeScaling! with { OriginalMaxPositionEmbeddings = 4 },
    };

    [Theory]
    [InlineData("v3")]
    [InlineData("no-q-lora")]
    [InlineData("softmax")]
    public void EveryParameterGradientMatchesFiniteDifferences(string variant)
    {
        var config = Config(variant);
        var model = DeepSeekModel.Create(config);
        var rng = new Rng(42);
        foreach (var p in model.Parameters)
        {
            var v = new float[p.Size];
            double std = p.Role == ParameterRole.Norm ? 0.1 : 1.0 / Math.Sqrt(p.Cols);
            for (int i = 0; i < v.Length; i++)
                v[i] = (float)(p.Role == ParameterRole.Norm ? 1 + std * rng.NextGaussian() : p.Role == ParameterRole.ExpertBias ? 0.05 * rng.NextGaussian() : std * rng.NextGaussian());
            p.SetValues(v);
            p.EnsureGrad();
        }
        int batch = 2, seq = 7;
        var tokens = Enumerable.Range(0, batch * seq).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        var weights = new LossWeights { BalanceAlpha = 0.01 };   // large enough that its gradient shows
        var ctx = new ForwardContext(Pool) { SaveActivations = true };
        var state = model.CreateState();

        (double Loss, int[] Routing) Evaluate()
        {
            ctx.Arena.Reset();
            model.Forward(ctx, tokens, new BatchLayout(batch, seq), state, new ForwardRequest { RunMtp = true });
            var (loss, _) = TrainingLoss.Compute(ctx, model, state, weights);
            var routing = state.Layers.Select(l => l.Moe.Routing).Concat(state.Mtp.Select(m => m.Layer.Moe.Routing))
                .Where(r => r.Tokens > 0).SelectMany(r => r.Indices.Take(r.Tokens * config.NumExpertsPerTok!.Value)).ToArray();
            return (loss.Total, routing);
        }

        ctx.Arena.Reset();
        model.Forward(ctx, tokens, new BatchLayout(batch, seq), state, new ForwardRequest { RunMtp = true });
        var (_, grads) = TrainingLoss.Compute(ctx, model, state, weights);
        model.Backward(ctx, state, grads.DLogits, grads.DMtpLogits, grads.Balance);
        var analytic = model.Parameters.ToDictionary(p => p, p => (float[])p.Grad!.Clone());
        var baseRouting = Evaluate().Routing;

        const float h = 2e-3f;
        int probes = 0, skipped = 0;
        double worst = 0;
        string worstAt = "";
        foreach (var p in model.Parameters)
        {
            if (p.Role == ParameterRole.ExpertBias) continue;
            var g = analytic[p];
            double scale = g.Max(x => Math.Abs((double)x));
            if (scale == 0) continue;   // e.g. an expert no token chose
            var entries = Enumerable.Range(0, g.Length).OrderByDescending(i => Math.Abs(g[i])).Take(2)
                .Concat(Enumerable.Range(0, 2).Select(_ => rng.NextInt(g.Length))).Distinct();
            foreach (int i in entries)
            {
                var data = p.Data!;
                float saved = data[i];
                data[i] = saved + h;
                var (plus, rPlus) = Evaluate();
                data[i] = saved - h;
                var (minus, rMinus) = Evaluate();
                data[i] = saved;
                if (!rPlus.AsSpan().SequenceEqual(baseRouting) || !rMinus.AsSpan().SequenceEqual(baseRouting)) { skipped++; continue; }
                double fd = (plus - minus) / (2 * h);
                double err = Math.Abs(fd - g[i]) / scale;
                if (err > worst) { worst = err; worstAt = $"{p.Name}[{i}] fd {fd:E4} analytic {g[i]:E4}"; }
                probes++;
            }
        }
        output.WriteLine($"{variant}: {probes} probes, {skipped} skipped (routing changed), worst {worst:E2} at {worstAt}");
        Assert.True(probes > 100, $"only {probes} probes");
        Assert.True(worst < 2e-2, $"finite differences disagree: {worstAt}");
    }
}
