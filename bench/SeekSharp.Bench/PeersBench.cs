using System.Diagnostics;
using System.Runtime.Intrinsics;
using SeekSharp.Bench.Tokenizer;
using SeekSharp.Formats.Gguf;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tokenization;

namespace SeekSharp.Bench;

/// <summary>
/// One row of the peers table: SeekSharp's figure beside a peer's from the same run, their ratio, and the target the
/// row must meet (issue 11). <see cref="Ratio"/> is SeekSharp / peer unless the row says otherwise in <see cref="Note"/>.
/// </summary>
internal sealed record PeerRow(string Group, string Row, string Unit, double Ours, string PeerName, double? Peer, double? Ratio, double? Target, string Note = "")
{
    public bool? Met => Ratio is { } r && Target is { } t ? r >= t : null;
}

/// <summary>
/// The one-command comparison with every peer that runs here (bench/README.md, `peers`): GEMM against OpenBLAS,
/// prefill/decode against llama.cpp on the same weights at F32, Q8_0 and Q4_0, decode at a 4K context, training against
/// a plain PyTorch implementation, the tokenizer against Hugging Face tokenizers, MTP speculative decoding against
/// plain decoding, and each decode row's weight bandwidth against the host's measured read bandwidth. Every pair ran
/// in this process (PyTorch in a child process driven round by round), rounds alternated, same threads. Progress on
/// stderr, the table on stdout. A section whose peer is missing or fails is reported and skipped; the rest still runs.
/// </summary>
internal static class PeersBench
{
    public static int Run(string[] args)
    {
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        int rounds = BenchArgs.GetInt(args, "--rounds", 3);
        string preset = BenchArgs.Get(args, "--preset") ?? "inference-800m";
        string trainPreset = BenchArgs.Get(args, "--train-preset") ?? "train-36m";
        var gemmSizes = (BenchArgs.Get(args, "--gemm-sizes") ?? "512,1024,2048").Split(',').Select(int.Parse).ToArray();
        var types = (BenchArgs.Get(args, "--types") ?? "f32,q8_0,q4_0").Split(',').Select(LlamaBench.ParseType).ToArray();
        int longContext = BenchArgs.GetInt(args, "--long-context", 4096);
        var skip = (BenchArgs.Get(args, "--skip") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var rows = new List<PeerRow>();
        var clock = Stopwatch.StartNew();

        Console.Error.WriteLine($"peers: {Environment.ProcessorCount} cores, avx512={Vector512.IsHardwareAccelerated}, threads={threads}");
        Console.Error.WriteLine("measuring read bandwidth ...");
        double bandwidth = ReadBandwidth.Measure(threads);
        rows.Add(new PeerRow("host", $"read bandwidth, {threads} threads", "GB/s", bandwidth, "-", null, null, null, "sum over 1 GiB, best of 7"));

        if (!skip.Contains("gemm")) Section("GEMM", () => Gemm(rows, gemmSizes, threads));
        if (!skip.Contains("inference"))
            foreach (var type in types)
                Section($"inference {type}", () => Inference(rows, preset, type, threads, rounds, bandwidth, type == GgufTensorType.Q8_0 ? longContext : 0));
        if (!skip.Contains("train")) Section("training", () => Training(rows, trainPreset, threads));
        if (!skip.Contains("tokenizer")) Section("tokenizer", () => TokenizerRow(rows));
        if (!skip.Contains("mtp")) Section("MTP speculative decoding", () => Speculation(rows, threads));

        Print(rows, threads, clock.Elapsed);
        return 0;

        void Section(string name, Action run)
        {
            Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {name} ...");
            try { run(); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"{name}: not measured: {e.Message}");
                rows.Add(new PeerRow(name, "not measured", "", double.NaN, "-", null, null, null, e.Message));
            }
        }
    }

    private static void Gemm(List<PeerRow> rows, int[] sizes, int threads)
    {
        if (!OpenBlas.Available) throw new InvalidOperationException("OpenBLAS is not installed (bench/peers.sh installs libopenblas0-pthread)");
        OpenBlas.Threads(threads);
        using var pool = new WorkerPool(threads);
        foreach (bool nt in new[] { true, false })
            foreach (int s in sizes)
            {
                var (ours, peer) = GemmBench.Measure(pool, s, nt, 3);
                rows.Add(new PeerRow("GEMM", $"sgemm {(nt ? "A·Bᵀ" : "A·B")} {s}³", "GFLOP/s", ours, "OpenBLAS", peer, ours / peer, 1.0));
            }
    }

    private static void Inference(List<PeerRow> rows, string preset, GgufTensorType type, int threads, int rounds, double bandwidth, int longContext)
    {
        var config = Presets.Get(preset);
        var model = LlamaBench.RandomModel(config, type);
        string group = $"{preset} {type}";
        var cases = new List<DecodeCase> { new(128, 64) };
        if (longContext > 0) { cases.Add(new DecodeCase(1, 64)); cases.Add(new DecodeCase(longContext, 64)); }
        var r = LlamaBench.Compare(model, LlamaBench.TokenizerFor(config.VocabSize), type, threads, rounds, cases);
        double bytes = r.WeightBytesPerToken;
        bool quantised = type != GgufTensorType.F32;
        var pp = r.Cases[0];
        rows.Add(new PeerRow(group, "prefill 128", "tokens/s", pp.OursPrefill, "llama.cpp", pp.TheirsPrefill, pp.OursPrefill / pp.TheirsPrefill, 2.0));
        rows.Add(new PeerRow(group, "decode 64", "tokens/s", pp.OursDecode, "llama.cpp", pp.TheirsDecode, pp.OursDecode / pp.TheirsDecode, quantised ? 1.5 : null,
            $"greedy tokens agree {pp.GreedyAgree}/{pp.Case.Generate}"));
        rows.Add(new PeerRow(group, "decode 64, weight bandwidth", "GB/s", bytes * pp.OursDecode / 1e9, "host read", bandwidth, bytes * pp.OursDecode / 1e9 / bandwidth, 0.9,
            $"{bytes / 1e6:F0} MB/token; llama.cpp {bytes * pp.TheirsDecode / 1e9:F1} GB/s"));
        if (longContext > 0)
        {
            var empty = r.Cases[1];
            var full = r.Cases[2];
            string at = longContext % 1024 == 0 ? $"{longContext / 1024}K" : $"{longContext}-token";
            rows.Add(new PeerRow(group, $"decode 64 at {at} context", "tokens/s", full.OursDecode, "llama.cpp", full.TheirsDecode, full.OursDecode / full.TheirsDecode, null,
                $"greedy tokens agree {full.GreedyAgree}/{full.Case.Generate}"));
            rows.Add(new PeerRow(group, $"decode at {at} / empty context", "share", full.OursDecode / empty.OursDecode, "llama.cpp", full.TheirsDecode / empty.TheirsDecode,
                full.OursDecode / empty.OursDecode, 0.85, $"ratio = SeekSharp's own share; empty: {empty.OursDecode:F1} vs {empty.TheirsDecode:F1} tokens/s"));
        }
    }

    private static void Training(List<PeerRow> rows, string preset, int threads)
    {
        if (TorchPeer.Unavailable() is { } missing) throw new InvalidOperationException(missing);
        var r = TrainBench.Measure(Presets.Get(preset), threads, batch: 4, seq: 256, steps: 2, rounds: 3, withPeer: true, Console.Error);
        string group = $"training {preset}";
        rows.Add(new PeerRow(group, "fwd + bwd + AdamW, 4 × 256, with MTP", "tokens/s", r.SeekSharpMtp.TokensPerSecond, "PyTorch", r.TorchMtp!.TokensPerSecond,
            r.RatioMtp, 4.0, "the same model: bench/peers/deepseek_v3.py (train --peer torch --check)"));
        rows.Add(new PeerRow(group, "the same without MTP", "tokens/s", r.SeekSharpNoMtp.TokensPerSecond, "PyTorch", r.TorchNoMtp!.TokensPerSecond, r.RatioNoMtp, null));
        double ours = TrainPeerResult.MtpAdds(r.SeekSharpMtp, r.SeekSharpNoMtp), theirs = TrainPeerResult.MtpAdds(r.TorchMtp, r.TorchNoMtp);
        // The ratio column holds 1 − share so that "higher is better" holds for every row; the target is ≤ 15% added.
        rows.Add(new PeerRow(group, "time the MTP loss adds", "share", ours, "PyTorch", theirs, 1 - ours, 0.85, $"SeekSharp +{ours:P0}, PyTorch +{theirs:P0}; ratio = 1 − SeekSharp's share, met when MTP adds ≤ 15%"));
    }

    private static void TokenizerRow(List<PeerRow> rows)
    {
        string repo = LlamaBench.RepoRoot();
        var r = TokenizerSpeed.Measure(repo, Path.Combine(Corpus.DataFolder(repo), "deepseek-v3"), 1.5, 5);
        double ours = r.MBps(TokenizerSpeed.Median(r.OursWarm)), theirs = r.MBps(TokenizerSpeed.Median(r.TheirsWarm));
        string agree = $"{r.Documents - r.Mismatches}/{r.Documents} documents give identical ids";
        rows.Add(new PeerRow("tokenizer", "encode, DeepSeek-V3 vocabulary, 1 thread", "MB/s", ours, "HF tokenizers", theirs, ours / theirs, 1.0, agree));
        rows.Add(new PeerRow("tokenizer", "encode, fresh instance", "MB/s", r.MBps(r.OursFresh), "HF tokenizers", r.MBps(r.TheirsFresh), r.TheirsFresh / r.OursFresh, 1.0));
    }

    /// <summary>
    /// MTP speculative decoding against plain decoding on the shipped default model: greedy replies to chat questions,
    /// alternating the two modes, total decode time of each; the replies must be identical.
    /// </summary>
    private static void Speculation(List<PeerRow> rows, int threads)
    {
        string dir = Path.Combine(LlamaBench.RepoRoot(), "models", "default");
        using var model = ModelLoader.Load(dir);
        var tokenizer = SeekSharp.Tokenization.Tokenizer.Load(dir);
        using var pool = new WorkerPool(threads);
        var generator = new Generator(new InferenceSession(model, InferenceSession.DefaultContext(model.Config), pool), tokenizer);
        string[] questions =
        [
            "What does gregarious mean?", "Give me a synonym for happy.", "Use the word harbor in a sentence.",
            "What is the atomic number of gold?", "What is a daemon in computing?", "What does the word lantern mean?",
            "Define the word meadow.", "What is the meaning of swift?",
        ];
        double plainSeconds = 0, mtpSeconds = 0;
        int plainTokens = 0, mtpTokens = 0, drafted = 0, accepted = 0, differ = 0;
        for (int round = 0; round <= 2; round++)   // round 0 warms up
            foreach (string q in questions)
            {
                var prompt = tokenizer.EncodeChat([new ChatMessage("user", q)], addGenerationPrompt: true);
                var (plain, ps) = Reply(generator, prompt, SpeculativeMode.Off);
                var (spec, ss) = Reply(generator, prompt, SpeculativeMode.Mtp);
                if (round == 0) continue;
                if (plain != spec) differ++;
                plainSeconds += ps.DecodeSeconds; plainTokens += ps.GeneratedTokens;
                mtpSeconds += ss.DecodeSeconds; mtpTokens += ss.GeneratedTokens;
                drafted += ss.Drafted; accepted += ss.Accepted;
            }
        double plainRate = plainTokens / plainSeconds, mtpRate = mtpTokens / mtpSeconds;
        rows.Add(new PeerRow("MTP (models/default)", "speculative decode, greedy", "tokens/s", mtpRate, "plain decode", plainRate, mtpRate / plainRate, 1.3,
            $"{accepted}/{drafted} drafts accepted; {(differ == 0 ? "replies identical" : $"{differ} replies DIFFER")}"));
    }

    private static (string Text, GenerationStats Stats) Reply(Generator generator, int[] prompt, SpeculativeMode mode)
    {
        generator.Session.Reset();
        var stats = new GenerationStats();
        var options = new GenerationOptions { MaxTokens = 64, Sampling = SamplingOptions.Greedy, Speculative = mode };
        string text = string.Concat(generator.Generate(prompt, options, stats));
        return (text, stats);
    }

    private static void Print(List<PeerRow> rows, int threads, TimeSpan elapsed)
    {
        Console.WriteLine($"SeekSharp beside its peers: one run, one host ({Environment.ProcessorCount} cores, AVX-512 {(Vector512.IsHardwareAccelerated ? "on" : "off")}), {threads} threads, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalMinutes:F0} min");
        Console.WriteLine();
        Console.WriteLine("| group | row | SeekSharp | peer | ratio | target | met | note |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---|---|");
        foreach (var r in rows)
        {
            string peer = r.Peer is { } p ? $"{r.PeerName} {Format(p)}" : r.PeerName;
            string ratio = r.Ratio is { } x ? $"{x:P0}" : "";
            string target = r.Target is { } t ? $"≥ {t:P0}" : "";
            string met = r.Met switch { true => "yes", false => "**no**", null => "" };
            string ours = double.IsNaN(r.Ours) ? "" : $"{Format(r.Ours)} {r.Unit}";
            Console.WriteLine($"| {r.Group} | {r.Row} | {ours} | {peer} | {ratio} | {target} | {met} | {r.Note} |");
        }
    }

    private static string Format(double x) => x >= 100 ? x.ToString("F0") : x >= 10 ? x.ToString("F1") : x.ToString("F2");
}
