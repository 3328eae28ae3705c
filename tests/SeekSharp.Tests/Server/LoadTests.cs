using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Server;

/// <summary>
/// A bounded load test: 32 concurrent streaming clients (more than --parallel, so some queue) against one server. All
/// complete, every stream is well-formed, and with temperature 0 each reply is the reply to the same prompt sent alone.
/// Time to first token (p50, p99) and aggregate tokens/s go to the test output.
/// </summary>
public class LoadTests(ITestOutputHelper output)
{
    private const int Clients = 32;
    private const int MaxTokens = 8;

    private static readonly string[] Topics = ["experts", "routing", "attention", "caches", "tokens", "layers", "latents", "batches"];

    private static object[] Messages(int client) =>
        [new { role = "user", content = $"Tell me about {Topics[client % Topics.Length]}, question {client / Topics.Length}." }];

    [Fact]
    public async Task ThirtyTwoStreamingClientsAllCompleteUncorrupted()
    {
        await using var server = await TestServer.StartAsync(o => o with { Parallel = 8 });
        var alone = new string[Clients];
        for (int i = 0; i < Clients; i++) alone[i] = (await StreamedChat.ReadAsync(server, Messages(i), MaxTokens)).Text;

        var clock = Stopwatch.StartNew();
        var replies = await Task.WhenAll(Enumerable.Range(0, Clients).Select(i => Task.Run(() => StreamedChat.ReadAsync(server, Messages(i), MaxTokens))));
        double seconds = clock.Elapsed.TotalSeconds;

        for (int i = 0; i < Clients; i++)
        {
            Assert.Equal(alone[i], replies[i].Text);
            Assert.InRange(replies[i].CompletionTokens, 1, MaxTokens);
        }
        var ttft = replies.Select(r => r.FirstToken.TotalMilliseconds).Order().ToArray();
        int tokens = replies.Sum(r => r.CompletionTokens);
        output.WriteLine($"{Clients} streaming clients, --parallel 8, max_tokens {MaxTokens}, golden model: all complete, none corrupted");
        output.WriteLine($"TTFT p50 {Percentile(ttft, 0.50):F0} ms, p99 {Percentile(ttft, 0.99):F0} ms; {tokens} tokens in {seconds:F2} s = {tokens / seconds:F1} tokens/s aggregate");
        Assert.Equal(0, server.Server.Scheduler!.InFlight);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
