using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>--speculative mtp in the scheduler: drafts for every decoding sequence in one MTP forward, verified in the batch step.</summary>
public class SpeculativeServingTests
{
    private static object Ask(string question, int maxTokens, double temperature = 0, int? seed = null) =>
        new { messages = new[] { new { role = "user", content = question } }, max_tokens = maxTokens, temperature, seed };

    private static readonly string[] Questions = ["What is MLA?", "Tell me about experts.", "Why route tokens?", "Hello there"];

    [Fact]
    public async Task GreedyRepliesAreTheSameWithAndWithoutDraftingAndDraftsAreCounted()
    {
        await using var plain = await TestServer.StartAsync(o => o with { PromptCacheBytes = 0 });
        await using var mtp = await TestServer.StartAsync(o => o with { PromptCacheBytes = 0, Speculative = SeekSharp.Inference.SpeculativeMode.Mtp });
        var expected = new List<string>();
        foreach (var q in Questions) expected.Add((await plain.ChatAsync(Ask(q, 16))).Text);

        foreach (var (q, i) in Questions.Select((q, i) => (q, i)))
            Assert.Equal(expected[i], (await mtp.ChatAsync(Ask(q, 16))).Text);       // alone
        var together = await Task.WhenAll(Questions.Select(q => mtp.ChatAsync(Ask(q, 16))));
        Assert.Equal(expected, together.Select(r => r.Text));                      // batched
        Assert.All(together, r => Assert.Equal(16, r.Response.GetProperty("usage").GetProperty("completion_tokens").GetInt32()));

        double drafted = await mtp.MetricAsync("seeksharp_mtp_drafted_total");
        double accepted = await mtp.MetricAsync("seeksharp_mtp_accepted_total");
        Assert.True(drafted > 0);
        Assert.InRange(accepted, 0, drafted);
        Assert.Equal(drafted > 0 ? accepted / drafted : 0, await mtp.MetricAsync("seeksharp_mtp_acceptance_ratio"), 9);
        Assert.Equal(0, await plain.MetricAsync("seeksharp_mtp_drafted_total"));
    }

    [Fact]
    public async Task SampledRepliesWithDraftingRepeatForASeed()
    {
        await using var mtp = await TestServer.StartAsync(o => o with { Speculative = SeekSharp.Inference.SpeculativeMode.Mtp });
        var a = await mtp.ChatAsync(Ask("Tell me about experts.", 20, temperature: 0.9, seed: 5));
        var b = await mtp.ChatAsync(Ask("Tell me about experts.", 20, temperature: 0.9, seed: 5));
        Assert.Equal(a.Text, b.Text);
        Assert.Equal(20, a.Response.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.True(await mtp.MetricAsync("seeksharp_mtp_drafted_total") > 0);
    }
}
