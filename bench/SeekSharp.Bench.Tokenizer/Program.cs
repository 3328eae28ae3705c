using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ours = SeekSharp.Tokenization.Tokenizer;
using Theirs = Tokenizers.DotNet.Tokenizer;

namespace SeekSharp.Bench.Tokenizer;

/// <summary>
/// dotnet run -c Release --project bench/SeekSharp.Bench.Tokenizer -- speed [--mb 1.5] [--reps 7]
/// dotnet run -c Release --project bench/SeekSharp.Bench.Tokenizer -- verify [--count 20000] [--seed 1]
/// dotnet run -c Release --project bench/SeekSharp.Bench.Tokenizer -- gen-cases --out FILE [--count 400] [--seed 7]
/// dotnet run -c Release --project bench/SeekSharp.Bench.Tokenizer -- corpus --out FILE [--mb 5]
/// dotnet run -c Release --project bench/SeekSharp.Bench.Tokenizer -- check-trained --tokenizer DIR --text FILE
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string command = args.Length > 0 ? args[0] : "speed";
        string repo = Option(args, "--repo") ?? FindRepoRoot();
        string tokenizerDir = Option(args, "--tokenizer") ?? Path.Combine(Corpus.DataFolder(repo), "deepseek-v3");
        switch (command)
        {
            case "speed":
                return Speed(repo, tokenizerDir, double.Parse(Option(args, "--mb") ?? "1.5"), int.Parse(Option(args, "--reps") ?? "7"));
            case "verify":
                return Verify(tokenizerDir, int.Parse(Option(args, "--count") ?? "20000"), ulong.Parse(Option(args, "--seed") ?? "1"));
            case "gen-cases":
                return GenerateCases(tokenizerDir, Option(args, "--out") ?? throw new ArgumentException("--out FILE"),
                    int.Parse(Option(args, "--count") ?? "400"), ulong.Parse(Option(args, "--seed") ?? "7"));
            case "corpus":
                var docs = Corpus.Documents(repo, Ours.Load(tokenizerDir), (int)(double.Parse(Option(args, "--mb") ?? "5") * 1024 * 1024));
                File.WriteAllText(Option(args, "--out") ?? throw new ArgumentException("--out FILE"), string.Concat(docs));
                Console.WriteLine($"wrote {docs.Count} documents");
                return 0;
            case "check-trained":
                return CheckTrained(tokenizerDir, Option(args, "--text") ?? throw new ArgumentException("--text FILE"));
            default:
                Console.Error.WriteLine($"unknown command '{command}': speed, verify, gen-cases, corpus, check-trained");
                return 2;
        }
    }

    private static int Speed(string repo, string tokenizerDir, double mb, int reps)
    {
        var r = TokenizerSpeed.Measure(repo, tokenizerDir, mb, reps);
        Console.WriteLine($"corpus: {r.Documents} documents, {r.Bytes / 1048576.0:F2} MiB UTF-8, {r.Chars:N0} chars");
        Console.WriteLine($"load: SeekSharp {r.OursLoadMs:F0} ms, Hugging Face tokenizers {r.TheirsLoadMs:F0} ms");
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.WriteLine($"agreement: {r.Documents - r.Mismatches}/{r.Documents} documents give identical ids ({r.Tokens:N0} tokens, {r.Bytes / (double)r.Tokens:F2} bytes/token)");
        Console.WriteLine();
        Console.WriteLine("encode throughput, MB/s (10^6 bytes of UTF-8 per second), one thread:");
        Console.WriteLine("  (first: first pass in the process, JIT and cache cold; cold cache: a fresh instance, code warm;");
        Console.WriteLine($"   median and best: {reps} warm passes each, interleaved)");
        Console.WriteLine($"  {"",-34} {"first",8} {"cold cache",11} {"median",8} {"best",8}");
        Console.WriteLine($"  {"SeekSharp Tokenizer.Encode",-34} {r.MBps(r.OursFirst),8:F2} {r.MBps(r.OursFresh),11:F2} {r.MBps(TokenizerSpeed.Median(r.OursWarm)),8:F2} {r.MBps(r.OursWarm.Min()),8:F2}");
        Console.WriteLine($"  {"SeekSharp Tokenizer.CountTokens",-34} {"",8} {"",11} {r.MBps(TokenizerSpeed.Median(r.CountWarm)),8:F2} {r.MBps(r.CountWarm.Min()),8:F2}");
        Console.WriteLine($"  {"HF tokenizers (Tokenizers.DotNet)",-34} {r.MBps(r.TheirsFirst),8:F2} {r.MBps(r.TheirsFresh),11:F2} {r.MBps(TokenizerSpeed.Median(r.TheirsWarm)),8:F2} {r.MBps(r.TheirsWarm.Min()),8:F2}");
        Console.WriteLine($"  ratio SeekSharp / HF (median): {TokenizerSpeed.Median(r.TheirsWarm) / TokenizerSpeed.Median(r.OursWarm):F1}x");
        Console.WriteLine($"  SeekSharp on {Environment.ProcessorCount} threads (Parallel.ForEach over documents): {r.MBps(r.OursParallel):F2} MB/s");
        return r.Mismatches == 0 ? 0 : 1;
    }

    private static int Verify(string tokenizerDir, int count, ulong seed)
    {
        var ours = Ours.Load(tokenizerDir);
        using var theirs = new Theirs(Path.Combine(tokenizerDir, "tokenizer.json"));
        var rng = new XorShift(seed);
        int bad = 0;
        for (int i = 0; i < count; i++)
        {
            string text = RandomText.Next(rng, 60);
            var a = ours.Encode(text);
            var b = theirs.Encode(text).Select(x => (int)x).ToArray();
            if (a.AsSpan().SequenceEqual(b) && ours.Decode(a) == text)
                continue;
            if (++bad <= 10)
                Console.WriteLine($"MISMATCH {JsonSerializer.Serialize(text)}\n  ours {string.Join(",", a)}\n  hf   {string.Join(",", b)}\n  ours as tokens {JsonSerializer.Serialize(a.Select(id => ours.Decode([id])))}");
        }
        Console.WriteLine($"verify: {count - bad}/{count} random texts agree with Hugging Face tokenizers (seed {seed})");
        return bad == 0 ? 0 : 1;
    }

    private static int GenerateCases(string tokenizerDir, string outPath, int count, ulong seed)
    {
        using var theirs = new Theirs(Path.Combine(tokenizerDir, "tokenizer.json"));
        var rng = new XorShift(seed);
        var cases = new List<object>();
        for (int i = 0; i < count; i++)
        {
            string text = RandomText.Next(rng, 80);
            cases.Add(new { text, ids = theirs.Encode(text).Select(x => (int)x).ToArray() });
        }
        var doc = new
        {
            source = $"Hugging Face tokenizers 0.22.2 (Rust: the native library of Tokenizers.DotNet {theirs.GetVersion()}) on DeepSeek-V3's tokenizer.json; random texts from bench/SeekSharp.Bench.Tokenizer/RandomText.cs, seed {seed}; ids without BOS",
            encode = cases,
        };
        File.WriteAllText(outPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false }));
        Console.WriteLine($"wrote {count} cases to {outPath}");
        return 0;
    }

    // Loads a trained tokenizer in Hugging Face and checks every line of a text encodes the same there and here.
    private static int CheckTrained(string tokenizerDir, string textPath)
    {
        var ours = Ours.Load(tokenizerDir);
        using var theirs = new Theirs(Path.Combine(tokenizerDir, "tokenizer.json"));
        int lines = 0, bad = 0, roundTrip = 0;
        foreach (string line in File.ReadLines(textPath))
        {
            lines++;
            var a = ours.Encode(line);
            if (!a.AsSpan().SequenceEqual(theirs.Encode(line).Select(x => (int)x).ToArray()))
                bad++;
            if (ours.Decode(a) == line)
                roundTrip++;
        }
        Console.WriteLine($"check-trained: Hugging Face loaded {tokenizerDir}; {lines - bad}/{lines} lines encode identically; {roundTrip}/{lines} round-trip through SeekSharp");
        return bad == 0 && roundTrip == lines ? 0 : 1;
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>The checkout the bench runs from: the first folder above the program that holds SeekSharp.sln.</summary>
    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SeekSharp.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException("cannot find the repository root (SeekSharp.sln); pass --repo DIR");
    }
}
