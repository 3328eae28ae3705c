using System.Net;
using System.Text.Json;
using SeekSharp.Server;
using SeekSharp.Tests.Cli;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>
/// <c>--request-timeout</c> (<see cref="ServerOptions.RequestTimeout"/>): a request that has not finished in time, waiting
/// for a slot or generating, is stopped and answered 504 <c>request_timeout</c> in OpenAI's shape (a stream: an error
/// event and [DONE]), and its place is freed. The scheduler is held (a test hook) so the requests cannot finish.
/// </summary>
public class RequestTimeoutTests
{
    private static object Ask(bool stream, int maxTokens = 4) =>
        new { messages = new[] { new { role = "user", content = "Tell me about experts." } }, max_tokens = maxTokens, temperature = 0, stream };

    [Fact]
    public async Task ARequestPastTheTimeoutIs504AndItsPlaceIsFreed()
    {
        await using var server = await TestServer.StartAsync(o => o with { Parallel = 1, RequestTimeout = TimeSpan.FromSeconds(1) });
        using (await server.PostAsync("v1/chat/completions", Ask(stream: false))) { }   // warms up (the first request JIT-compiles)
        var scheduler = server.Server.Scheduler!;
        scheduler.Pause();

        using (var chat = await server.PostAsync("v1/chat/completions", Ask(stream: false)))
        {
            var error = await ErrorTests.AssertError(chat, HttpStatusCode.GatewayTimeout, code: "request_timeout");
            Assert.Equal("timeout_error", error.GetProperty("type").GetString());
            Assert.Contains("(1 s)", error.GetProperty("message").GetString());
        }
        using (var completion = await server.PostAsync("v1/completions", new { prompt = "Once upon", max_tokens = 3 }))
            await ErrorTests.AssertError(completion, HttpStatusCode.GatewayTimeout, code: "request_timeout");

        using (var stream = await server.SendStreamingAsync("v1/chat/completions", Ask(stream: true)))
        {
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
            var events = (await stream.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, events.Length);   // the role chunk, the error, [DONE]
            using var error = JsonDocument.Parse(events[1]["data: ".Length..]);
            Assert.Equal("request_timeout", error.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal("data: [DONE]", events[2]);
        }

        // A request stopped mid-generation: a step at a time, so it has started and cannot finish in time.
        var slow = server.PostAsync("v1/chat/completions", Ask(stream: false, maxTokens: 64));
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(100);
            scheduler.RunSteps(1);
        }
        using (var stopped = await slow)
            await ErrorTests.AssertError(stopped, HttpStatusCode.GatewayTimeout, code: "request_timeout");

        Assert.Equal(0, scheduler.InFlight);
        scheduler.Resume();
        Assert.NotEmpty((await server.ChatAsync(Ask(stream: false))).Text);   // the slot is free and the server answers again
        Assert.True(await server.MetricAsync("seeksharp_requests_total{finish_reason=\"cancelled\"}") >= 4);
    }

    [Fact]
    public async Task WithoutATimeoutAHeldRequestWaits()
    {
        await using var server = await TestServer.StartAsync(o => o with { Parallel = 1 });
        server.Server.Scheduler!.Pause();
        var reply = server.ChatAsync(Ask(stream: false));
        await Task.Delay(600);
        Assert.False(reply.IsCompleted);
        server.Server.Scheduler!.Resume();
        Assert.NotEmpty((await reply).Text);
    }

    [Fact]
    public void TheTimeoutIsValidated()
    {
        var options = TestServer.Options(o => o with { RequestTimeout = TimeSpan.Zero });
        Assert.Contains("--request-timeout", Assert.Throws<InvalidInputException>(options.Validate).Message);
        var flag = CliTestHost.Run("serve", "--model", new GoldenCase("v3_yarn_f32").Dir, "--request-timeout", "-1", "--port", "0");
        Assert.Equal(2, flag.Code);
        Assert.Equal("error: --request-timeout must be more than 0 and at most 86400 seconds, got -1.", flag.Err.TrimEnd('\n'));
        Assert.Contains("--request-timeout", CliTestHost.Run("serve", "--help").Out);
    }
}
