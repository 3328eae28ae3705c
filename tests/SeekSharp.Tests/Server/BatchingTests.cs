using System.Net;
using System.Text.Json;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>
/// Continuous batching: concurrent requests share each forward and get what they get alone; the queue has a limit
/// (429 with Retry-After past it); a client that leaves frees its slot before the next step. The scheduler is held
/// between steps (an internal test hook) so that requests line up deterministically, without sleeps.
/// </summary>
public class BatchingTests
{
    private static readonly string[] Questions = ["What is MLA?", "Tell me about experts.", "Why route tokens?", "Hello there"];

    private static object Ask(string question, int maxTokens, bool stream = false) =>
        new { messages = new[] { new { role = "user", content = question } }, max_tokens = maxTokens, temperature = 0, stream };

    [Fact]
    public async Task FourConcurrentRequestsDecodeInOneForwardPerStepAndMatchEachAlone()
    {
        await using var server = await TestServer.StartAsync(o => o with { Parallel = 4, PromptCacheBytes = 0 });
        var alone = new List<string>();
        foreach (var q in Questions) alone.Add((await server.ChatAsync(Ask(q, 12))).Text);

        double steps0 = await server.MetricAsync("seeksharp_engine_steps_total");
        double sequences0 = await server.MetricAsync("seeksharp_engine_step_sequences_total");
        server.Server.Scheduler!.Pause();
        var replies = Questions.Select(q => server.ChatAsync(Ask(q, 12))).ToArray();
        await server.WaitForMetricAsync("seeksharp_queue_depth", v => v == 4, "four requests waiting");
        server.Server.Scheduler!.Resume();
        var together = await Task.WhenAll(replies);

        Assert.Equal(alone, together.Select(r => r.Text));
        double steps = await server.MetricAsync("seeksharp_engine_steps_total") - steps0;
        double sequences = await server.MetricAsync("seeksharp_engine_step_sequences_total") - sequences0;
        // One step prefills all four prompts together, then each step decodes all four: 12 steps, not 48.
        Assert.True(steps <= 12, $"{steps} steps for four replies of 12 tokens");
        Assert.True(sequences / steps > 3, $"{sequences / steps:F2} sequences per step");
    }

    [Fact]
    public async Task PromptsArePrefilledInChunksBesideDecodes()
    {
        await using var server = await TestServer.StartAsync(o => o with { Parallel = 2, PromptCacheBytes = 0, PrefillChunk = 4 });
        var (alone, _) = await server.ChatAsync(Ask("Tell me about experts.", 8));
        var (aloneOther, _) = await server.ChatAsync(Ask("Why route tokens?", 8));
        var a = server.ChatAsync(Ask("Tell me about experts.", 8));
        var b = server.ChatAsync(Ask("Why route tokens?", 8));
        var both = await Task.WhenAll(a, b);
        Assert.Equal(alone, both[0].Text);
        Assert.Equal(aloneOther, both[1].Text);
        double rows = await server.MetricAsync("seeksharp_engine_step_rows_total");
        double steps = await server.MetricAsync("seeksharp_engine_steps_total");
        Assert.True(rows / steps <= 2 * 4, "no step carries more than the prefill chunk plus the decodes");
    }

    [Fact]
    public async Task PastTheQueueLimitTheAnswerIs429WithRetryAfter()
    {
        await using var server = await TestServer.StartAsync(o => o with { Parallel = 1, QueueLimit = 1 });
        var scheduler = server.Server.Scheduler!;
        scheduler.Pause();
        using var first = await server.SendStreamingAsync("v1/chat/completions", Ask("What is MLA?", 4, stream: true));
        using var second = await server.SendStreamingAsync("v1/chat/completions", Ask("Hello there", 4, stream: true));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);     // streams start (headers) once the scheduler has taken them
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);

        using var third = await server.PostAsync("v1/chat/completions", Ask("Why route tokens?", 4));
        var error = await ErrorTests.AssertError(third, HttpStatusCode.TooManyRequests, code: "queue_full");
        Assert.Equal("1", third.Headers.GetValues("Retry-After").Single());
        Assert.Contains("busy", error.GetProperty("message").GetString());
        Assert.Equal(1, await server.MetricAsync("seeksharp_requests_rejected_total{reason=\"queue_full\"}"));

        scheduler.Resume();
        Assert.EndsWith("data: [DONE]\n\n", await first.Content.ReadAsStringAsync());
        Assert.EndsWith("data: [DONE]\n\n", await second.Content.ReadAsStringAsync());
        var (_, json) = await server.ChatAsync(Ask("Why route tokens?", 4));
        Assert.Equal(4, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task AClientThatDisconnectsFreesItsSlotBeforeTheNextStep()
    {
        await using var server = await TestServer.StartAsync(o => o with { Parallel = 1, QueueLimit = 0 });
        var scheduler = server.Server.Scheduler!;
        scheduler.Pause();
        var leaving = await server.SendStreamingAsync("v1/chat/completions", Ask("What is MLA?", 100, stream: true));
        scheduler.RunSteps(3);                                   // prefill (first token), then two decodes
        await server.WaitForMetricAsync("seeksharp_generation_tokens_total", v => v == 3, "three tokens generated");
        Assert.Equal(1, await server.MetricAsync("seeksharp_slots_busy"));
        using (var busy = await server.PostAsync("v1/chat/completions", Ask("Hello there", 2)))
            Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);

        leaving.Dispose();                                       // the client goes away mid-stream
        await server.WaitForMetricAsync("seeksharp_requests_total{finish_reason=\"cancelled\"}", v => v == 1, "the request cancelled");
        Assert.Equal(0, await server.MetricAsync("seeksharp_slots_busy"));
        Assert.Equal(3, await server.MetricAsync("seeksharp_generation_tokens_total"));   // freed without another step

        scheduler.Resume();
        var (_, json) = await server.ChatAsync(Ask("Hello there", 2));
        Assert.Equal(2, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ShutdownStopsTakingRequestsAndCancelsThoseInFlightAfterTheGrace()
    {
        var server = await TestServer.StartAsync(o => o with { Parallel = 1, ShutdownGrace = TimeSpan.FromMilliseconds(200) });
        try
        {
            server.Server.Scheduler!.Pause();                    // a request that cannot finish by itself
            using var stream = await server.SendStreamingAsync("v1/chat/completions", Ask("What is MLA?", 50, stream: true));
            var stopping = server.Server.StopAsync();
            string text = await stream.Content.ReadAsStringAsync();
            await stopping;
            var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("data: [DONE]", events[^1]);
            var error = JsonDocument.Parse(events[^2]["data: ".Length..]).RootElement.GetProperty("error");
            Assert.Equal("shutting_down", error.GetProperty("code").GetString());
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => server.Http.GetAsync("health"));   // no longer listening
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
