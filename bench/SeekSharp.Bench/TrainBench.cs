using System.Diagnostics;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;

namespace SeekSharp.Bench;

/// <summary>
/// Training throughput: fwd + bwd + AdamW tokens/s on random data for a config (random weights), with a split of
/// where the time goes.
/// </summary>
internal static class TrainBench
{
    public static int Run(string[] args)
    {
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        int batch = BenchArgs.GetInt(args, "--batch-size", 4), seq = BenchArgs.GetInt(args, "--seq-len", 256);
        int steps = BenchArgs.GetInt(args, "--steps", 5);
        bool mtp = !BenchArgs.Has(args, "--no-mtp");
        var config = BenchArgs.Get(args, "--config") is { } path ? ModelConfig.Load(path) : Presets.Get(BenchArgs.Get(args, "--preset") ?? "train-36m");
        var model = DeepSeekModel.Create(config);
        ModelInitializer.Initialize(model, 1);
        foreach (var p in model.Parameters) p.EnsureGrad();
        using var pool = new WorkerPool(threads);
        var ctx = new ForwardContext(pool) { SaveActivations = true };
        var state = model.CreateState();
        var optimizer = new Optimizer(model, new OptimizerOptions());
        var weights = new LossWeights { MtpLambda = mtp ? 0.3 : 0 };
        var rng = new Random(3);
        var tokens = Enumerable.Range(0, batch * seq).Select(_ => rng.Next(config.VocabSize)).ToArray();
        double fwd = 0, loss = 0, bwd = 0, opt = 0, best = 0;
        for (int s = 0; s <= steps; s++)
        {
            var sw = Stopwatch.StartNew();
            ctx.Arena.Reset();
            foreach (var p in optimizer.Parameters) Array.Clear(p.Grad!);
            model.Forward(ctx, tokens, new BatchLayout(batch, seq), state, new ForwardRequest { RunMtp = mtp });
            double t1 = sw.Elapsed.TotalSeconds;
            var (_, grads) = TrainingLoss.Compute(ctx, model, state, weights);
            double t2 = sw.Elapsed.TotalSeconds;
            model.Backward(ctx, state, grads.DLogits, grads.DMtpLogits, grads.Balance);
            double t3 = sw.Elapsed.TotalSeconds;
            optimizer.Step(pool, 1e-4);
            double t4 = sw.Elapsed.TotalSeconds;
            if (s == 0) continue;   // warm-up
            fwd += t1; loss += t2 - t1; bwd += t3 - t2; opt += t4 - t3;
            best = Math.Max(best, batch * seq / t4);
        }
        double total = fwd + loss + bwd + opt;
        Console.WriteLine($"{config.NumHiddenLayers} layers, hidden {config.HiddenSize}, {config.NRoutedExperts} experts; batch {batch} × {seq}, MTP {(mtp ? "on" : "off")}, threads {threads}");
        Console.WriteLine($"mean {steps * batch * seq / total:F0} tokens/s, best {best:F0}; forward {fwd / total:P0}, loss {loss / total:P0}, backward {bwd / total:P0}, AdamW {opt / total:P0}");
        return 0;
    }
}
