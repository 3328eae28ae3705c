using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>Finished requests' latent caches are reused by later prompts that share a prefix, with the same output.</summary>
public class PromptCacheTests
{
    private const string System = "You are a terse assistant that explains DeepSeek-V3: MLA, experts, routing and MTP.";

    private static object Ask(params (string Role, string Content)[] messages) => new
    {
        messages = messages.Select(m => new { role = m.Role, content = m.Content }),
        max_tokens = 8,
        temperature = 0,
    };

    private static int Cached(System.Text.Json.JsonElement response) =>
        response.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();

    private static int Prompt(System.Text.Json.JsonElement response) => response.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();

    [Fact]
    public async Task ASharedSystemPromptAndEarlierTurnsAreNotPrefilledAgain()
    {
        await using var server = await TestServer.StartAsync();
        await using var uncached = await TestServer.StartAsync(o => o with { PromptCacheBytes = 0 });

        var (first, r1) = await server.ChatAsync(Ask(("system", System), ("user", "What is MLA?")));
        Assert.Equal(0, Cached(r1));
        var (second, r2) = await server.ChatAsync(Ask(("system", System), ("user", "Why route tokens?")));
        Assert.True(Cached(r2) > 10, $"cached_tokens = {Cached(r2)}");                   // the system prompt, at least
        Assert.True(Cached(r2) < Prompt(r2));
        Assert.Equal((await uncached.ChatAsync(Ask(("system", System), ("user", "Why route tokens?")))).Text, second);

        // The next turn of the first conversation: its prompt and reply are reused.
        var turn = Ask(("system", System), ("user", "What is MLA?"), ("assistant", first), ("user", "And MTP?"));
        var (third, r3) = await server.ChatAsync(turn);
        Assert.True(Cached(r3) >= Prompt(r1), $"cached_tokens = {Cached(r3)}, first prompt {Prompt(r1)}");
        Assert.Equal((await uncached.ChatAsync(turn)).Text, third);

        // The very same request again: everything but the last prompt token comes from the cache.
        var (again, r4) = await server.ChatAsync(Ask(("system", System), ("user", "Why route tokens?")));
        Assert.Equal(second, again);
        Assert.Equal(Prompt(r4) - 1, Cached(r4));

        Assert.Equal(3, await server.MetricAsync("seeksharp_prompt_cache_hits_total"));
        Assert.Equal(0.75, await server.MetricAsync("seeksharp_prompt_cache_hit_ratio"));
        Assert.True(await server.MetricAsync("seeksharp_prompt_cache_bytes") > 0);
        Assert.Equal(0, await uncached.MetricAsync("seeksharp_prompt_cache_hits_total"));
    }
}
