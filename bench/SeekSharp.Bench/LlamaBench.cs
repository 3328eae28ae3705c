using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;
using SeekSharp.Formats.Gguf;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tensors;

namespace SeekSharp.Bench;

/// <summary>
/// Prefill and decode tokens/s of SeekSharp against llama.cpp (LLamaSharp, CPU backend) on the same weights: the model
/// (random weights of a preset, or a folder) is quantised in SeekSharp for q8_0/q4_0, saved and exported to a temporary
/// GGUF of that type (quantised matrices are copied byte for byte), and both engines run in alternating rounds with the
/// same threads: a batched prefill of --prompt random tokens, then --generate single-token steps feeding back the argmax.
/// llama.cpp runs with an F32 KV cache and flash attention off, as in LlamaCppGgufTests.
/// </summary>
internal static class LlamaBench
{
    public static int Run(string[] args)
    {
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        int prompt = BenchArgs.GetInt(args, "--prompt", 128);
        int generate = BenchArgs.GetInt(args, "--generate", 64);
        int rounds = BenchArgs.GetInt(args, "--rounds", 3);
        var type = (BenchArgs.Get(args, "--type") ?? "f32").ToLowerInvariant() switch
        {
            "f32" => GgufTensorType.F32,
            "q8_0" or "q8" => GgufTensorType.Q8_0,
            "q4_0" or "q4" => GgufTensorType.Q4_0,
            var t => throw new ArgumentException($"--type {t}: expected f32, q8_0 or q4_0"),
        };
        string tmp = Directory.CreateTempSubdirectory("seeksharp-llama-bench-").FullName;
        try
        {
            var sw = Stopwatch.StartNew();
            DeepSeekModel model;
            string what, tokenizerDir;
            if (BenchArgs.Get(args, "--model") is { } dir)
            {
                model = ModelLoader.Load(dir);
                what = dir;
                tokenizerDir = dir;
            }
            else
            {
                what = BenchArgs.Get(args, "--preset") ?? "tiny";
                model = DeepSeekModel.Create(Presets.Get(what));
                ModelInitializer.Initialize(model, 1);
                tokenizerDir = TokenizerFor(model.Config.VocabSize);
            }
            if (type.ToQuantType() is { } q) ModelQuantizer.Quantize(model, q);
            var c = model.Config;
            Console.Error.WriteLine($"model ready in {sw.Elapsed.TotalSeconds:F1} s");

            // The same weights to GGUF: save the (quantised) model as a folder with a tokenizer, export that folder.
            sw.Restart();
            string folder = Path.Combine(tmp, "model"), gguf = Path.Combine(tmp, "model.gguf");
            ModelSaver.Save(model, folder);
            foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
                if (File.Exists(Path.Combine(tokenizerDir, file))) File.Copy(Path.Combine(tokenizerDir, file), Path.Combine(folder, file));
            GgufExporter.Export(folder, gguf, type, false);
            Directory.Delete(folder, recursive: true);
            Console.Error.WriteLine($"exported {new FileInfo(gguf).Length / 1e6:F0} MB {type} GGUF in {sw.Elapsed.TotalSeconds:F1} s");

            NativeLogConfig.llama_log_set((_, _) => { });
            var p = new ModelParams(gguf)
            {
                ContextSize = (uint)(prompt + generate),
                BatchSize = (uint)prompt,
                UBatchSize = (uint)prompt,
                TypeK = GGMLType.GGML_TYPE_F32,
                TypeV = GGMLType.GGML_TYPE_F32,
                FlashAttention = false,
                GpuLayerCount = 0,
                Threads = threads,
                BatchThreads = threads,
            };
            using var weights = LLamaWeights.LoadFromFile(p);
            using var context = weights.CreateContext(p);

            using var pool = new WorkerPool(threads);
            var ctx = new ForwardContext(pool);
            var rng = new Random(5);
            var tokens = Enumerable.Range(0, prompt).Select(_ => rng.Next(c.VocabSize)).ToArray();
            var ours = new DecodeRound(model, ctx, tokens, generate);
            var batch = new LLamaBatch();

            (double Prefill, double Decode) Theirs()
            {
                context.NativeHandle.MemoryClear();
                batch.Clear();
                for (int i = 0; i < prompt; i++) batch.Add((LLamaToken)tokens[i], i, (LLamaSeqId)0, i == prompt - 1);
                var t = Stopwatch.StartNew();
                Check(context.Decode(batch));
                double prefill = prompt / t.Elapsed.TotalSeconds;
                int next = DecodeRound.ArgMax(context.NativeHandle.GetLogitsIth(prompt - 1));
                t.Restart();
                for (int i = 0; i < generate; i++)
                {
                    batch.Clear();
                    batch.Add((LLamaToken)next, prompt + i, (LLamaSeqId)0, true);
                    Check(context.Decode(batch));
                    next = DecodeRound.ArgMax(context.NativeHandle.GetLogitsIth(0));
                }
                return (prefill, generate / t.Elapsed.TotalSeconds);
            }

            double oursPrefill = 0, oursDecode = 0, theirPrefill = 0, theirDecode = 0;
            for (int round = 0; round <= rounds; round++)   // round 0 warms up both
            {
                var (op, od) = ours.Run();
                var (tp, td) = Theirs();
                if (round == 0) continue;
                oursPrefill = Math.Max(oursPrefill, op); oursDecode = Math.Max(oursDecode, od);
                theirPrefill = Math.Max(theirPrefill, tp); theirDecode = Math.Max(theirDecode, td);
            }

            long bytes = ActivatedWeightBytes(model);
            var a = ModelAccounting.For(c);
            Console.WriteLine($"{what}: {a.MainParameters / 1e6:F1}M parameters ({a.ActivatedParameters / 1e6:F1}M activated), {type}, threads={threads}, best of {rounds} alternated rounds");
            Console.WriteLine($"weights read per decoded token: {bytes / 1e6:F1} MB (activated matrices, one embedding row)");
            Console.WriteLine($"{"row",-14} {"SeekSharp tok/s",16} {"llama.cpp tok/s",16} {"ratio",8} {"SeekSharp GB/s",15} {"llama.cpp GB/s",15}");
            Console.WriteLine($"{$"prefill {prompt}",-14} {oursPrefill,16:F1} {theirPrefill,16:F1} {oursPrefill / theirPrefill,7:P0}");
            Console.WriteLine($"{$"decode {generate}",-14} {oursDecode,16:F1} {theirDecode,16:F1} {oursDecode / theirDecode,7:P0} {bytes * oursDecode / 1e9,15:F2} {bytes * theirDecode / 1e9,15:F2}");
            return 0;
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    private static void Check(DecodeResult r)
    {
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {r}");
    }

    /// <summary>
    /// Bytes of weights one decoded token reads in the main model: every tensor as stored, routed experts scaled by
    /// experts-per-token / experts, one row of the embedding; MTP layers left out.
    /// </summary>
    private static long ActivatedWeightBytes(DeepSeekModel model)
    {
        var c = model.Config;
        double total = 0;
        foreach (var (name, p) in model.NamedParameters())
        {
            if (IsMtp(name, c.NumHiddenLayers)) continue;
            double b = p.Weight.ByteSize;
            if (name == CheckpointLayout.Embed) b /= p.Rows;
            else if (name.Contains(".mlp.experts.", StringComparison.Ordinal)) b *= (double)(c.NumExpertsPerTok ?? 0) / (c.NRoutedExperts ?? 1);
            total += b;
        }
        return (long)total;
    }

    private static bool IsMtp(string name, int layers)
    {
        const string pre = "model.layers.";
        if (!name.StartsWith(pre, StringComparison.Ordinal)) return false;
        int end = name.IndexOf('.', pre.Length);
        return int.Parse(name.AsSpan(pre.Length, end - pre.Length)) >= layers;
    }

    /// <summary>models/default's tokenizer when its vocabulary fits, else the tests' tiny tokenizer (llama.cpp refuses a GGUF without one).</summary>
    private static string TokenizerFor(int vocabSize)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "SeekSharp.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException("cannot find the repository root (SeekSharp.sln) for a tokenizer");
        string main = Path.Combine(root.FullName, "models", "default");
        string tiny = Path.Combine(root.FullName, "tests", "SeekSharp.Tests", "Data", "tiny-tokenizer");
        return SeekSharp.Tokenization.Tokenizer.Load(main).VocabSize <= vocabSize ? main : tiny;
    }
}
