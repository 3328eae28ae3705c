using System.Net;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>/health while loading and after; /metrics in Prometheus' text format with counts that add up.</summary>
public class HealthAndMetricsTests
{
    [Fact]
    public async Task HealthIs503WhileTheModelLoadsThen200()
    {
        var gate = new TaskCompletionSource();
        await using var server = await TestServer.StartAsync(o => o with { LoadGate = gate.Task }, waitUntilReady: false);
        using (var loading = await server.Http.GetAsync("health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
            Assert.Equal("loading", (await TestServer.JsonOf(loading)).GetProperty("status").GetString());
        }
        using (var chat = await server.PostAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } } }))
        {
            await ErrorTests.AssertError(chat, HttpStatusCode.ServiceUnavailable, code: "model_loading");
            Assert.True(chat.Headers.Contains("Retry-After"));
        }
        Assert.Equal(0, await server.MetricAsync("seeksharp_model_loaded"));

        gate.SetResult();
        await server.Server.Ready;
        using (var ready = await server.Http.GetAsync("health"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("ok", (await TestServer.JsonOf(ready)).GetProperty("status").GetString());
        }
        Assert.Equal(1, await server.MetricAsync("seeksharp_model_loaded"));
    }

    [Fact]
    public async Task MetricsCountRequestsTokensAndExpertLoad()
    {
        await using var server = await TestServer.StartAsync();
        var (_, a) = await server.ChatAsync(new { messages = new[] { new { role = "user", content = "What is MLA?" } }, max_tokens = 5, temperature = 0 });
        using (var b = await server.PostAsync("v1/completions", new { prompt = "Experts", max_tokens = 7, temperature = 0 }))
            Assert.Equal(HttpStatusCode.OK, b.StatusCode);

        using var response = await server.Http.GetAsync("metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        // Every sample line is "name{labels} value" under its # HELP and # TYPE.
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.Matches(@"^(# HELP [a-z_]+ .+|# TYPE [a-z_]+ (counter|gauge)|[a-z_]+(\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\})? [-+0-9.eE]+)$", line);

        Assert.Equal(2, await server.MetricAsync("seeksharp_requests_total{finish_reason=\"length\"}"));
        Assert.Equal(12, await server.MetricAsync("seeksharp_generation_tokens_total"));
        int promptA = a.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        double prompts = await server.MetricAsync("seeksharp_prompt_tokens_total");
        Assert.True(prompts > promptA);
        Assert.Equal(prompts, await server.MetricAsync("seeksharp_prompt_tokens_prefilled_total") + await server.MetricAsync("seeksharp_prompt_tokens_cached_total"));
        Assert.True(await server.MetricAsync("seeksharp_generation_tokens_per_second") > 0);
        Assert.True(await server.MetricAsync("seeksharp_prompt_tokens_per_second") > 0);
        Assert.Equal(0, await server.MetricAsync("seeksharp_queue_depth"));
        Assert.Equal(0, await server.MetricAsync("seeksharp_slots_busy"));
        Assert.Equal(4, await server.MetricAsync("seeksharp_slots"));
        Assert.Equal(2, await server.MetricAsync("seeksharp_time_to_first_token_seconds_count"));
        Assert.Equal(0, await server.MetricAsync("seeksharp_mtp_acceptance_ratio"));

        // Routed-expert load: the golden model's layers 1 and 2 are MoE with 16 experts, 4 per token, so each layer
        // routed 4 × (every row of every step).
        double rows = await server.MetricAsync("seeksharp_engine_step_rows_total");
        foreach (int layer in new[] { 1, 2 })
        {
            double routed = 0;
            for (int e = 0; e < 16; e++) routed += await server.MetricAsync($"seeksharp_expert_tokens_total{{layer=\"{layer}\",expert=\"{e}\"}}");
            Assert.Equal(4 * rows, routed);
            Assert.True(await server.MetricAsync($"seeksharp_expert_load_max_over_mean{{layer=\"{layer}\"}}") >= 1);
        }
        Assert.DoesNotContain("layer=\"0\"", text);   // the dense first layer routes nothing
    }
}
