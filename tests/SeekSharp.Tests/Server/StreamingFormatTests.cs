using System.Text.Json;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>The raw SSE framing, byte for byte where OpenAI fixes it: "data: JSON" events separated by blank lines, ending with [DONE].</summary>
[Collection(ServerCollection.Name)]
public class StreamingFormatTests(SharedServer shared)
{
    private TestServer Server => shared.Server;

    /// <summary>The events of a stream: every one a "data: " line followed by a blank line.</summary>
    private async Task<(List<string> Events, string ContentType)> Events(string path, object body)
    {
        using var response = await Server.PostAsync(path, body);
        Assert.Equal(200, (int)response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("data: [DONE]\n\n", text);
        var events = text.Split("\n\n", StringSplitOptions.None);
        Assert.Equal("", events[^1]);
        var data = new List<string>();
        foreach (var e in events[..^1])
        {
            Assert.StartsWith("data: ", e);
            Assert.DoesNotContain('\n', e);
            data.Add(e["data: ".Length..]);
        }
        return (data, response.Content.Headers.ContentType!.MediaType!);
    }

    [Fact]
    public async Task ChatStreamIsFramedAsOpenAiFramesIt()
    {
        var body = new
        {
            messages = new[] { new { role = "user", content = "Tell me about experts." } },
            max_tokens = 6, temperature = 0, stream = true, stream_options = new { include_usage = true },
        };
        var (events, contentType) = await Events("v1/chat/completions", body);
        Assert.Equal("text/event-stream", contentType);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.Equal(TestServer.ModelId, c.GetProperty("model").GetString()));

        // First: the role, with empty content. Then content deltas. Then one chunk with finish_reason and an empty delta.
        var first = chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("", first.GetProperty("delta").GetProperty("content").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("finish_reason").ValueKind);
        var finish = chunks[^2].GetProperty("choices")[0];
        Assert.Equal("length", finish.GetProperty("finish_reason").GetString());
        Assert.Empty(finish.GetProperty("delta").EnumerateObject());
        foreach (var c in chunks[1..^2])
        {
            var choice = c.GetProperty("choices")[0];
            Assert.False(choice.GetProperty("delta").TryGetProperty("role", out _));
            Assert.Equal(JsonValueKind.Null, choice.GetProperty("finish_reason").ValueKind);
        }

        // include_usage: every chunk carries "usage": null, and a last chunk with no choices carries the counts.
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        var usage = chunks[^1];
        Assert.Empty(usage.GetProperty("choices").EnumerateArray());
        Assert.Equal(6, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        int prompt = usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(prompt + 6, usage.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.True(usage.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32() >= 0);

        // The streamed text is the non-streamed reply.
        string streamed = string.Concat(chunks[1..^2].Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        var (whole, _) = await Server.ChatAsync(new { messages = body.messages, max_tokens = 6, temperature = 0 });
        Assert.Equal(whole, streamed);
    }

    [Fact]
    public async Task WithoutIncludeUsageNoChunkHasUsage()
    {
        var (events, _) = await Events("v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 3, temperature = 0, stream = true });
        foreach (var e in events[..^1])
        {
            var c = JsonDocument.Parse(e).RootElement;
            Assert.False(c.TryGetProperty("usage", out _));
            Assert.Single(c.GetProperty("choices").EnumerateArray());
        }
    }

    [Fact]
    public async Task CompletionsStreamAndAgreeWithTheWholeReply()
    {
        var (events, _) = await Events("v1/completions", new { prompt = "The latent cache", max_tokens = 5, temperature = 0, stream = true, stream_options = new { include_usage = true } });
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Equal("length", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(5, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        string streamed = string.Concat(chunks[..^1].Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));

        using var response = await Server.PostAsync("v1/completions", new { prompt = "The latent cache", max_tokens = 5, temperature = 0 });
        var json = await TestServer.JsonOf(response);
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        Assert.Equal(streamed, json.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task StopStringsEndTheReplyWithStop()
    {
        var messages = new[] { new { role = "user", content = "Tell me about experts." } };
        var (full, _) = await Server.ChatAsync(new { messages, max_tokens = 16, temperature = 0 });
        Assert.True(full.Length >= 4, full);
        string stop = full.Substring(full.Length / 2, 2);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        var (text, json) = await Server.ChatAsync(new { messages, max_tokens = 16, temperature = 0, stop });
        Assert.Equal(expected, text);
        Assert.Equal("stop", json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var (listed, _) = await Server.ChatAsync(new { messages, max_tokens = 16, temperature = 0, stop = new[] { "zzzz", stop } });
        Assert.Equal(expected, listed);

        var (events, _) = await Events("v1/chat/completions", new { messages, max_tokens = 16, temperature = 0, stop, stream = true });
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
        Assert.Equal(expected, string.Concat(chunks[1..^1].Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString())));
        Assert.Equal("stop", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task SeededSamplingRepeatsAndPenaltiesAreAccepted()
    {
        var messages = new[] { new { role = "user", content = "Tell me about experts." } };
        var body = new { messages, max_tokens = 12, temperature = 1.0, top_p = 0.9, seed = 42, frequency_penalty = 0.5, presence_penalty = 0.3 };
        var (a, _) = await Server.ChatAsync(body);
        var (b, _) = await Server.ChatAsync(body);
        Assert.Equal(a, b);
        var (c, _) = await Server.ChatAsync(body with { seed = 7 });
        Assert.NotEqual(a, c);
    }

    [Fact]
    public async Task IgnoreEosGeneratesExactlyMaxTokens()
    {
        var (_, json) = await Server.ChatAsync(new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 20, temperature = 0, ignore_eos = true });
        Assert.Equal(20, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task CompletionsTakeTokenIdsAndReportLegacyLogprobs()
    {
        using var tokenized = await Server.PostAsync("tokenize", new { prompt = "The latent cache" });
        var ids = (await TestServer.JsonOf(tokenized)).GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var byText = await Server.PostAsync("v1/completions", new { prompt = "The latent cache", max_tokens = 4, temperature = 0, logprobs = 2 });
        using var byIds = await Server.PostAsync("v1/completions", new { prompt = ids, max_tokens = 4, temperature = 0 });
        using var byNestedIds = await Server.PostAsync("v1/completions", new { prompt = new[] { ids }, max_tokens = 4, temperature = 0 });
        var text = await TestServer.JsonOf(byText);
        string reply = text.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Equal(reply, (await TestServer.JsonOf(byIds)).GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(reply, (await TestServer.JsonOf(byNestedIds)).GetProperty("choices")[0].GetProperty("text").GetString());

        var logprobs = text.GetProperty("choices")[0].GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()).ToArray();
        Assert.Equal(4, tokens.Length);
        Assert.Equal(reply, string.Concat(tokens));
        Assert.All(logprobs.GetProperty("token_logprobs").EnumerateArray(), lp => Assert.True(lp.GetDouble() <= 0));
        Assert.All(logprobs.GetProperty("top_logprobs").EnumerateArray(), top => Assert.InRange(top.EnumerateObject().Count(), 1, 2));
        Assert.Equal(0, logprobs.GetProperty("text_offset")[0].GetInt32());
    }
}
