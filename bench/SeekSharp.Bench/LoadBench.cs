using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SeekSharp.Server;
using SeekSharp.Server.Http;

namespace SeekSharp.Bench;

/// <summary>
/// <c>load</c>: --clients concurrent streaming chat clients (default 32) at once against <c>seeksharp serve</c> with
/// --parallel slots (default 16, so the rest queue), each a different greedy question answered with up to --tokens
/// tokens. Reports whether all completed with well-formed streams, time to first token (p50, p99) and aggregate tokens/s.
/// The server runs in this process on 127.0.0.1; the clients are plain HttpClients reading the SSE stream.
/// </summary>
internal static class LoadBench
{
    public static int Run(string[] args)
    {
        string model = BenchArgs.Get(args, "--model") ?? ServeBench.FindDefaultModel();
        int clients = BenchArgs.GetInt(args, "--clients", 32);
        int parallel = BenchArgs.GetInt(args, "--parallel", 16);
        int tokens = BenchArgs.GetInt(args, "--tokens", 32);
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        return RunAsync(model, clients, parallel, tokens, threads).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string model, int clients, int parallel, int tokens, int threads)
    {
        Console.WriteLine($"model {model}, {threads} threads, {clients} clients, --parallel {parallel}, up to {tokens} tokens per reply (greedy)");
        await using var server = await OpenAiServer.StartAsync(new ServerOptions
        {
            ModelDirectory = model, Port = 0, Threads = threads, Parallel = parallel, QueueLimit = Math.Max(64, clients),
        }, Console.Error);
        await server.Ready;
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients + 4 }) { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
        await Stream(http, 0, tokens, Stopwatch.StartNew());               // warm the JIT

        var clock = Stopwatch.StartNew();
        var replies = await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(() => Stream(http, i, tokens, clock))));
        double seconds = clock.Elapsed.TotalSeconds;
        int failed = replies.Count(r => r.Error is not null);
        foreach (var r in replies.Where(r => r.Error is not null).Take(5)) Console.WriteLine($"  failed: {r.Error}");
        var ttft = replies.Where(r => r.Error is null).Select(r => r.FirstToken).Order().ToArray();
        int total = replies.Sum(r => r.Tokens);
        Console.WriteLine($"{clients - failed} of {clients} streams complete and well-formed; {total} tokens in {seconds:F2} s");
        if (ttft.Length > 0)
            Console.WriteLine($"TTFT p50 {Percentile(ttft, 0.50) * 1000:F0} ms, p99 {Percentile(ttft, 0.99) * 1000:F0} ms; aggregate {total / seconds:F1} tokens/s");
        return failed == 0 ? 0 : 1;
    }

    private sealed record Reply(int Tokens, double FirstToken, string? Error);

    /// <summary>One streamed reply: its token count and seconds to first content, or what was wrong with the stream.</summary>
    private static async Task<Reply> Stream(HttpClient http, int client, int tokens, Stopwatch clock)
    {
        double start = clock.Elapsed.TotalSeconds;
        var body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = $"Question {client}: what does the word number {client} in the dictionary mean?" } },
            max_tokens = tokens, temperature = 0, stream = true, stream_options = new { include_usage = true },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode) return new Reply(0, 0, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double first = double.NaN;
        int generated = -1, chunks = 0;
        string? id = null;
        bool finished = false, done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || done) return new Reply(0, 0, $"unexpected line '{line}'");
            if (line == "data: [DONE]")
            {
                done = true;
                continue;
            }
            using var doc = JsonDocument.Parse(line.AsMemory(6));
            var root = doc.RootElement;
            if ((id ??= root.GetProperty("id").GetString()) != root.GetProperty("id").GetString()) return new Reply(0, 0, "the chunk id changed");
            var choices = root.GetProperty("choices");
            if (choices.GetArrayLength() == 0)
            {
                generated = root.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
                continue;
            }
            var choice = choices[0];
            if ((chunks++ == 0) != choice.GetProperty("delta").TryGetProperty("role", out _)) return new Reply(0, 0, "the role is not (only) in the first chunk");
            if (choice.GetProperty("finish_reason").ValueKind == JsonValueKind.String) finished = true;
            else if (double.IsNaN(first) && choice.GetProperty("delta").TryGetProperty("content", out var c) && c.GetString() is { Length: > 0 })
                first = clock.Elapsed.TotalSeconds - start;
        }
        if (!done || !finished || generated < 0) return new Reply(0, 0, "the stream lacks its finish chunk, usage or [DONE]");
        return new Reply(generated, double.IsNaN(first) ? clock.Elapsed.TotalSeconds - start : first, null);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
