using System.Text.Json;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Server;

/// <summary>
/// The chat page in headless Chromium (Debian's chromium, driven by Playwright): a message gets a streamed reply, the
/// next turn resends the conversation, Stop ends a long generation and frees its slot on the server, and a
/// screenshot is saved. The scheduler is held between steps so that "streamed" and "stopped mid-reply" are seen for sure.
/// </summary>
public class ChatPageBrowserTests(ITestOutputHelper output)
{
    private const string Reply = "#messages .message.assistant";

    [Fact]
    public async Task ChatStreamsKeepsTurnsAndStops()
    {
        await using var server = await TestServer.StartAsync(o => o with { ApiKey = "sk-browser" });
        server.Authorize("sk-browser");
        var scheduler = server.Server.Scheduler!;
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium.Path,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 700 } });
        page.SetDefaultTimeout(10_000);
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(server.Address.ToString());

        // Settings: the key (kept in localStorage), greedy, short replies, a system prompt.
        await page.FillAsync("#api-key", "sk-browser");
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#max-tokens", "8");
        await page.FillAsync("#system-prompt", "You are terse.");
        Assert.Equal("sk-browser", await page.EvaluateAsync<string>("localStorage.getItem('seeksharp.apiKey')"));
        await page.PressAsync("#api-key", "Tab");                     // the key is changed: the page shows the served model
        await page.WaitForSelectorAsync($"#model:text('Model: {TestServer.ModelId}')");

        // Turn 1, streamed: with the scheduler held, the reply shows its first tokens while still streaming.
        scheduler.Pause();
        await page.FillAsync("#prompt", "What is an expert?");
        await page.ClickAsync("#send");
        await page.WaitForSelectorAsync(Reply + ".streaming");
        string partial = await StepUntilTextAsync(page, server, Reply);
        Assert.True(await page.IsVisibleAsync(Reply + ".streaming"), "the reply should still be streaming after a few steps");
        scheduler.Resume();
        var stats = await page.WaitForSelectorAsync(Reply + " .stats");
        string first = await page.InnerTextAsync(Reply + " .content");
        Assert.StartsWith(partial, first);
        Assert.Matches(@"first token \d+\.\d\d s · 8 tokens · \d+(\.\d)? tokens/s · stopped at max tokens", await stats!.InnerTextAsync());
        var (expected, _) = await server.ChatAsync(new
        {
            messages = new[] { new { role = "system", content = "You are terse." }, new { role = "user", content = "What is an expert?" } },
            max_tokens = 8, temperature = 0,
        });
        Assert.Equal(expected, first);

        // Turn 2, stopped: no max tokens (up to the context); the request resends turn 1; Stop cancels it mid-reply.
        await page.FillAsync("#max-tokens", "");
        scheduler.Pause();
        await page.FillAsync("#prompt", "Tell me more.");
        var request = await page.RunAndWaitForRequestAsync(() => page.ClickAsync("#send"), r => r.Url.EndsWith("/v1/chat/completions", StringComparison.Ordinal));
        using (var body = JsonDocument.Parse(request.PostData!))
        {
            var roles = body.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString());
            Assert.Equal("system user assistant user", string.Join(' ', roles));
            Assert.Equal(first, body.RootElement.GetProperty("messages")[2].GetProperty("content").GetString());
            Assert.True(body.RootElement.GetProperty("stream").GetBoolean());
            Assert.False(body.RootElement.TryGetProperty("max_tokens", out _));
            Assert.Equal("Bearer sk-browser", request.Headers["authorization"]);
        }
        var secondReply = page.Locator(Reply).Nth(1);
        await secondReply.Locator(".content").WaitForAsync();
        await StepUntilTextAsync(page, server, Reply + " >> nth=1");
        Assert.True(await page.IsEnabledAsync("#stop"));
        await page.ClickAsync("#stop");
        var stopped = await secondReply.Locator(".stats").InnerTextAsync();
        Assert.EndsWith("stopped", stopped);
        Assert.True(await page.IsEnabledAsync("#send"));
        Assert.False(await page.IsEnabledAsync("#stop"));
        // The server noticed the disconnect and freed the slot, though the scheduler is still held.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (scheduler.InFlight > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, scheduler.InFlight);
        scheduler.Resume();
        Assert.Contains("Reply stopped", await page.InnerTextAsync("#status"));
        Assert.Equal(4, await page.Locator("#messages .message").CountAsync());
        Assert.Empty(errors);

        string shot = Path.Combine(AppContext.BaseDirectory, "screenshots", "chat-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(shot)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
        Assert.True(new FileInfo(shot).Length > 0);
        output.WriteLine($"screenshot: {shot}");
    }

    /// <summary>Runs the held scheduler a step at a time until the reply shows some text; that text.</summary>
    private static async Task<string> StepUntilTextAsync(IPage page, TestServer server, string reply)
    {
        var content = page.Locator(reply).Locator(".content");
        for (int step = 0; step < 40; step++)
        {
            server.Server.Scheduler!.RunSteps(1);
            await Task.Delay(50);
            string text = await content.InnerTextAsync();
            if (text.Length > 0) return text;
        }
        throw new Xunit.Sdk.XunitException("No streamed text appeared after 40 scheduler steps.");
    }
}
