using System.Diagnostics;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Bench;

/// <summary>
/// Forward throughput on a model with random weights (or a model folder): a batched prefill of --prompt tokens, then
/// --generate single-token steps through the latent KV cache (greedy feed of the argmax), as llama-bench's pp/tg do.
/// </summary>
internal static class ForwardBench
{
    public static int Run(string[] args)
    {
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        int prompt = BenchArgs.GetInt(args, "--prompt", 128);
        int generate = BenchArgs.GetInt(args, "--generate", 64);
        int repeats = BenchArgs.GetInt(args, "--repeats", 3);
        var storage = (BenchArgs.Get(args, "--dtype") ?? "f32") switch
        {
            "bf16" => ElementType.BF16,
            "f16" => ElementType.F16,
            _ => ElementType.F32,
        };
        var sw = Stopwatch.StartNew();
        DeepSeekModel model;
        string what;
        if (BenchArgs.Get(args, "--model") is { } dir)
        {
            model = ModelLoader.Load(dir, new ModelLoadOptions { MatrixStorage = storage });
            what = dir;
        }
        else
        {
            var config = BenchArgs.Get(args, "--config") is { } path ? ModelConfig.Load(path) : Presets.Get(BenchArgs.Get(args, "--preset") ?? "tiny");
            model = DeepSeekModel.Create(config);
            ModelInitializer.Initialize(model, 1);
            foreach (var p in model.Parameters) p.ConvertTo(SeekSharp.Tensors.Weights.WeightFormats.ToWeightFormat(storage));
            what = BenchArgs.Get(args, "--config") ?? BenchArgs.Get(args, "--preset") ?? "tiny";
        }
        string precision = storage.ToString();
        if (BenchArgs.Get(args, "--quantize") is { } q)
        {
            var type = ModelQuantizer.Parse(q);
            ModelQuantizer.Quantize(model, type);
            precision = type.ToString();
        }
        var c = model.Config;
        Console.Error.WriteLine($"model ready in {sw.Elapsed.TotalSeconds:F1} s");
        using var pool = new WorkerPool(threads);
        var ctx = new ForwardContext(pool);
        var rng = new Random(5);
        var tokens = Enumerable.Range(0, prompt).Select(_ => rng.Next(c.VocabSize)).ToArray();
        var round = new DecodeRound(model, ctx, tokens, generate);
        double bestPrefill = 0, bestDecode = 0;
        for (int rep = 0; rep <= repeats; rep++)   // round 0 warms up the JIT
        {
            var (prefill, decode) = round.Run();
            if (rep > 0) { bestPrefill = Math.Max(bestPrefill, prefill); bestDecode = Math.Max(bestDecode, decode); }
        }
        var a = ModelAccounting.For(c);
        Console.WriteLine($"{what}: {a.MainParameters / 1e6:F0}M parameters ({a.ActivatedParameters / 1e6:F0}M activated), {precision}, threads={threads}");
        Console.WriteLine($"prefill {prompt}: {bestPrefill:F1} tokens/s   decode {generate}: {bestDecode:F1} tokens/s   (best of {repeats})");
        return 0;
    }
}
