using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SeekSharp.Server;
using SeekSharp.Server.Http;

namespace SeekSharp.Bench;

/// <summary>
/// <c>serve</c>: aggregate generated tokens/s of <c>seeksharp serve</c> at 1, 4 and 16 concurrent streaming clients
/// (each streams one chat reply of exactly --tokens tokens: greedy, different questions, ignore_eos), and what the prompt cache
/// saves for a shared system prompt (prefilled tokens and time to first token, cold against warm). The server runs in
/// this process on 127.0.0.1 with --parallel equal to the largest client count; the clients are plain HttpClients
/// reading the SSE stream.
/// </summary>
internal static class ServeBench
{
    private static readonly string[] Words =
    [
        "apple", "river", "lantern", "granite", "harbour", "violin", "meadow", "copper",
        "thunder", "pillow", "compass", "orchard", "falcon", "ribbon", "glacier", "saddle",
    ];

    public static int Run(string[] args)
    {
        string model = BenchArgs.Get(args, "--model") ?? FindDefaultModel();
        int tokens = BenchArgs.GetInt(args, "--tokens", 64);
        int repeats = BenchArgs.GetInt(args, "--repeats", 3);
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        var streams = (BenchArgs.Get(args, "--streams") ?? "1,4,16").Split(',').Select(int.Parse).ToArray();
        bool mtp = BenchArgs.Get(args, "--speculative") == "mtp";
        return RunAsync(model, tokens, repeats, threads, streams, mtp).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string model, int tokens, int repeats, int threads, int[] streams, bool mtp)
    {
        Console.WriteLine($"model {model}, {threads} threads, {tokens} tokens per reply (ignore_eos), best of {repeats} rounds{(mtp ? ", --speculative mtp" : "")}");
        await using (var server = await Start(model, threads, streams.Max(), cacheBytes: 0, mtp))
        {
            using var http = Client(server);
            await Round(http, 1, tokens);                         // warm the JIT
            Console.WriteLine("streams  tokens  seconds  aggregate tok/s  per-stream tok/s  TTFT p50 ms");
            foreach (int n in streams)
            {
                RoundResult? best = null;
                for (int r = 0; r < repeats; r++)
                {
                    var result = await Round(http, n, tokens);
                    if (best is null || result.TokensPerSecond > best.TokensPerSecond) best = result;
                }
                Console.WriteLine($"{n,7}  {best!.Tokens,6}  {best.Seconds,7:F2}  {best.TokensPerSecond,15:F1}  {best.TokensPerSecond / n,16:F1}  {best.TtftP50 * 1000,11:F0}");
            }
            if (mtp)
            {
                var metrics = await http.GetStringAsync("metrics");
                string Value(string name) => metrics.Split('\n').First(l => l.StartsWith(name + " ", StringComparison.Ordinal))[(name.Length + 1)..];
                Console.WriteLine($"MTP drafts accepted: {Value("seeksharp_mtp_accepted_total")} of {Value("seeksharp_mtp_drafted_total")} ({double.Parse(Value("seeksharp_mtp_acceptance_ratio"), System.Globalization.CultureInfo.InvariantCulture):P1})");
            }
        }
        if (mtp) return 0;

        await using (var server = await Start(model, threads, 4, cacheBytes: 256L << 20))
        {
            using var http = Client(server);
            await Cache(server, http);
        }
        return 0;
    }

    private static async Task<OpenAiServer> Start(string model, int threads, int parallel, long cacheBytes, bool mtp = false)
    {
        var server = await OpenAiServer.StartAsync(new ServerOptions
        {
            ModelDirectory = model, Port = 0, Threads = threads, Parallel = parallel, QueueLimit = 64, PromptCacheBytes = cacheBytes,
            Speculative = mtp ? SeekSharp.Inference.SpeculativeMode.Mtp : SeekSharp.Inference.SpeculativeMode.Off,
        }, Console.Error);
        await server.Ready;
        return server;
    }

    private static HttpClient Client(OpenAiServer server) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };

    private sealed record RoundResult(int Tokens, double Seconds, double TokensPerSecond, double TtftP50);

    private static async Task<RoundResult> Round(HttpClient http, int n, int tokens)
    {
        var clock = Stopwatch.StartNew();
        var replies = await Task.WhenAll(Enumerable.Range(0, n).Select(i =>
            Stream(http, [new { role = "user", content = $"What does the word {Words[i % Words.Length]} mean?" }], tokens, clock)));
        double seconds = clock.Elapsed.TotalSeconds;
        int total = replies.Sum(r => r.Tokens);
        var ttft = replies.Select(r => r.FirstToken).Order().ToArray();
        return new RoundResult(total, seconds, total / seconds, ttft[ttft.Length / 2]);
    }

    private sealed record Reply(int Tokens, int CachedTokens, int PromptTokens, double FirstToken);

    /// <summary>Streams one chat reply; the seconds to its first content chunk (on <paramref name="clock"/>) and the usage.</summary>
    private static async Task<Reply> Stream(HttpClient http, object[] messages, int tokens, Stopwatch clock, bool ignoreEos = true)
    {
        double start = clock.Elapsed.TotalSeconds;
        var body = JsonSerializer.Serialize(new { messages, max_tokens = tokens, temperature = 0, ignore_eos = ignoreEos, stream = true, stream_options = new { include_usage = true } });
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double first = double.NaN;
        int generated = 0, cached = 0, prompt = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]") continue;
            using var doc = JsonDocument.Parse(line.AsMemory(6));
            var root = doc.RootElement;
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                generated = usage.GetProperty("completion_tokens").GetInt32();
                prompt = usage.GetProperty("prompt_tokens").GetInt32();
                cached = usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
            }
            if (double.IsNaN(first) && root.GetProperty("choices") is { } choices && choices.GetArrayLength() > 0
                && choices[0].GetProperty("delta").TryGetProperty("content", out var c) && c.GetString() is { Length: > 0 })
                first = clock.Elapsed.TotalSeconds - start;
        }
        return new Reply(generated, cached, prompt, double.IsNaN(first) ? clock.Elapsed.TotalSeconds - start : first);
    }

    /// <summary>A long shared system prompt: the first request prefills it, the next ones fork it from the cache.</summary>
    private static async Task Cache(OpenAiServer server, HttpClient http)
    {
        string system = "You are a careful dictionary. " + string.Join(" ", Enumerable.Range(0, 30).Select(i =>
            $"Rule {i + 1}: define the word {Words[i % Words.Length]} plainly, name its part of speech, and give one example."));
        var clock = Stopwatch.StartNew();
        var cold = new List<Reply>();
        var warm = new List<Reply>();
        for (int i = 0; i < 6; i++)
        {
            var messages = new object[] { new { role = "system", content = system }, new { role = "user", content = $"What does the word {Words[i]} mean?" } };
            // Cold: a system prompt never seen (a number in front makes it differ from the first token on).
            var coldMessages = new object[] { new { role = "system", content = $"{i}. " + system }, messages[1] };
            cold.Add(await Stream(http, coldMessages, 1, clock));
            if (i == 0) await Stream(http, messages, 1, clock);   // puts the shared system prompt into the cache
            warm.Add(await Stream(http, messages, 1, clock));
        }
        var c = server.Model!.Model.Config;
        long perPosition = (long)c.NumHiddenLayers * (c.KvLoraRank + c.QkRopeHeadDim) * sizeof(float);
        double coldTtft = Median(cold.Select(r => r.FirstToken)), warmTtft = Median(warm.Select(r => r.FirstToken));
        Console.WriteLine($"prompt cache: system prompt + question = {warm[0].PromptTokens} tokens; cached {Median(warm.Select(r => (double)r.CachedTokens)):F0} of them");
        Console.WriteLine($"  time to first token: cold {coldTtft * 1000:F0} ms, warm {warmTtft * 1000:F0} ms (median of {cold.Count}); saved {(coldTtft - warmTtft) * 1000:F0} ms, {(1 - warmTtft / coldTtft):P0}");
        Console.WriteLine($"  a cached position costs {perPosition} bytes of latent cache ({c.NumHiddenLayers} layers × ({c.KvLoraRank} + {c.QkRopeHeadDim}) floats)" +
            (c.MtpDepth > 0 ? $" + {c.HiddenSize * sizeof(float)} bytes of MTP hidden state" : "") +
            $"; the cached system prompt holds {warm[0].CachedTokens * perPosition / 1024.0:F0} KiB of latents");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    internal static string FindDefaultModel()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "models", "default", "config.json"))) return Path.Combine(dir.FullName, "models", "default");
        throw new InvalidOperationException("models/default not found above the current folder; pass --model DIR.");
    }
}
