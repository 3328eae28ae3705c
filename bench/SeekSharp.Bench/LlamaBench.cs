using System.Diagnostics;
using SeekSharp.Formats.Gguf;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tensors;

namespace SeekSharp.Bench;

/// <summary>One prefill-then-decode shape: llama-bench's pp/tg, or a decode after a long prompt (a 4K context).</summary>
internal sealed record DecodeCase(int Prompt, int Generate);

/// <summary>Best tokens/s of each engine on one case, and how many leading greedy tokens both engines agree on.</summary>
internal sealed record DecodeComparison(DecodeCase Case, double OursPrefill, double TheirsPrefill, double OursDecode, double TheirsDecode, int GreedyAgree);

/// <summary>The result of <see cref="LlamaBench.Compare"/>: weights read per decoded token and each case.</summary>
internal sealed record LlamaComparison(GgufTensorType Type, long WeightBytesPerToken, IReadOnlyList<DecodeComparison> Cases);

/// <summary>
/// Prefill and decode tokens/s of SeekSharp against llama.cpp (LLamaSharp, CPU backend) on the same weights: the model
/// (random weights of a preset, or a folder) is quantised in SeekSharp for q8_0/q4_0, saved and exported to a temporary
/// GGUF of that type (quantised matrices are copied byte for byte), and both engines run in alternating rounds with the
/// same threads: a batched prefill of --prompt random tokens, then --generate single-token steps feeding back the argmax.
/// llama.cpp runs with an F32 KV cache and flash attention off, as in LlamaCppGgufTests.
/// </summary>
internal static class LlamaBench
{
    /// <summary>Prompts longer than this are prefilled in chunks of this many tokens by both engines.</summary>
    private const int PrefillChunk = 512;

    public static int Run(string[] args)
    {
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        int prompt = BenchArgs.GetInt(args, "--prompt", 128);
        int generate = BenchArgs.GetInt(args, "--generate", 64);
        int rounds = BenchArgs.GetInt(args, "--rounds", 3);
        var type = ParseType(BenchArgs.Get(args, "--type") ?? "f32");
        var sw = Stopwatch.StartNew();
        string what;
        DeepSeekModel model;
        string tokenizerDir;
        if (BenchArgs.Get(args, "--model") is { } dir)
        {
            model = ModelLoader.Load(dir);
            if (type.ToQuantType() is { } q) ModelQuantizer.Quantize(model, q);
            what = dir;
            tokenizerDir = dir;
        }
        else
        {
            what = BenchArgs.Get(args, "--preset") ?? "tiny";
            model = RandomModel(Presets.Get(what), type);
            tokenizerDir = TokenizerFor(model.Config.VocabSize);
        }
        Console.Error.WriteLine($"model ready in {sw.Elapsed.TotalSeconds:F1} s");

        var r = Compare(model, tokenizerDir, type, threads, rounds, [new DecodeCase(prompt, generate)]);
        var cmp = r.Cases[0];
        long bytes = r.WeightBytesPerToken;
        var a = ModelAccounting.For(model.Config);
        Console.WriteLine($"{what}: {a.MainParameters / 1e6:F1}M parameters ({a.ActivatedParameters / 1e6:F1}M activated), {type}, threads={threads}, best of {rounds} alternated rounds");
        Console.WriteLine($"weights read per decoded token: {bytes / 1e6:F1} MB (activated matrices, one embedding row)");
        Console.WriteLine($"{"row",-14} {"SeekSharp tok/s",16} {"llama.cpp tok/s",16} {"ratio",8} {"SeekSharp GB/s",15} {"llama.cpp GB/s",15}");
        Console.WriteLine($"{$"prefill {prompt}",-14} {cmp.OursPrefill,16:F1} {cmp.TheirsPrefill,16:F1} {cmp.OursPrefill / cmp.TheirsPrefill,7:P0}");
        Console.WriteLine($"{$"decode {generate}",-14} {cmp.OursDecode,16:F1} {cmp.TheirsDecode,16:F1} {cmp.OursDecode / cmp.TheirsDecode,7:P0} {bytes * cmp.OursDecode / 1e9,15:F2} {bytes * cmp.TheirsDecode / 1e9,15:F2}");
        Console.WriteLine($"greedy tokens: the engines agree on the first {cmp.GreedyAgree} of {generate}");
        return 0;
    }

    public static GgufTensorType ParseType(string s) => s.ToLowerInvariant() switch
    {
        "f32" => GgufTensorType.F32,
        "q8_0" or "q8" => GgufTensorType.Q8_0,
        "q4_0" or "q4" => GgufTensorType.Q4_0,
        var t => throw new ArgumentException($"--type {t}: expected f32, q8_0 or q4_0"),
    };

    /// <summary>A model of <paramref name="config"/> with the bench's random weights (seed 1), quantised for <paramref name="type"/>.</summary>
    public static DeepSeekModel RandomModel(ModelConfig config, GgufTensorType type)
    {
        var model = DeepSeekModel.Create(config);
        ModelInitializer.Initialize(model, 1);
        if (type.ToQuantType() is { } q) ModelQuantizer.Quantize(model, q);
        return model;
    }

    /// <summary>
    /// Exports <paramref name="model"/> (already stored as <paramref name="type"/>) to a temporary GGUF, loads it in
    /// llama.cpp, and runs each case on both engines in alternating rounds (round 0 warms both up); best of
    /// <paramref name="rounds"/>.
    /// </summary>
    public static LlamaComparison Compare(DeepSeekModel model, string tokenizerDir, GgufTensorType type, int threads, int rounds, IReadOnlyList<DecodeCase> cases)
    {
        string tmp = Directory.CreateTempSubdirectory("seeksharp-llama-bench-").FullName;
        try
        {
            var sw = Stopwatch.StartNew();
            string folder = Path.Combine(tmp, "model"), gguf = Path.Combine(tmp, "model.gguf");
            ModelSaver.Save(model, folder);
            foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
                if (File.Exists(Path.Combine(tokenizerDir, file))) File.Copy(Path.Combine(tokenizerDir, file), Path.Combine(folder, file));
            GgufExporter.Export(folder, gguf, type, false);
            Directory.Delete(folder, recursive: true);
            Console.Error.WriteLine($"exported {new FileInfo(gguf).Length / 1e6:F0} MB {type} GGUF in {sw.Elapsed.TotalSeconds:F1} s");

            int context = cases.Max(c => c.Prompt + c.Generate);
            int batch = Math.Min(PrefillChunk, cases.Max(c => c.Prompt));
            using var theirs = new LlamaEngine(gguf, context, batch, threads);
            using var pool = new WorkerPool(threads);
            var ctx = new ForwardContext(pool);
            var results = new List<DecodeComparison>();
            foreach (var c in cases)
            {
                var rng = new Random(5);
                var tokens = Enumerable.Range(0, c.Prompt).Select(_ => rng.Next(model.Config.VocabSize)).ToArray();
                var ours = new DecodeRound(model, ctx, tokens, c.Generate, PrefillChunk);
                var theirTokens = new int[c.Generate];
                double op = 0, od = 0, tp = 0, td = 0;
                for (int round = 0; round <= rounds; round++)   // round 0 warms up both
                {
                    var (p1, d1) = ours.Run();
                    var (p2, d2) = theirs.Run(tokens, theirTokens);
                    if (round == 0) continue;
                    op = Math.Max(op, p1); od = Math.Max(od, d1); tp = Math.Max(tp, p2); td = Math.Max(td, d2);
                }
                int agree = 0;
                while (agree < c.Generate && ours.Generated[agree] == theirTokens[agree]) agree++;
                results.Add(new DecodeComparison(c, op, tp, od, td, agree));
            }
            return new LlamaComparison(type, ActivatedWeightBytes(model), results);
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    /// <summary>
    /// Bytes of weights one decoded token reads in the main model: every tensor as stored, routed experts scaled by
    /// experts-per-token / experts, one row of the embedding; MTP layers left out.
    /// </summary>
    public static long ActivatedWeightBytes(DeepSeekModel model)
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
    public static string TokenizerFor(int vocabSize)
    {
        string root = RepoRoot();
        string main = Path.Combine(root, "models", "default");
        string tiny = Path.Combine(root, "tests", "SeekSharp.Tests", "Data", "tiny-tokenizer");
        return SeekSharp.Tokenization.Tokenizer.Load(main).VocabSize <= vocabSize ? main : tiny;
    }

    public static string RepoRoot() => SeekSharp.Bench.Tokenizer.Program.FindRepoRoot();
}
