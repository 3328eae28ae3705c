using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>
/// One streamed chat completion read and checked as a client would: every event a "data: " line, the role in the
/// first chunk, one id throughout, exactly one chunk with finish_reason, then the usage chunk and [DONE]. Its text,
/// token count and time to first content.
/// </summary>
internal sealed record StreamedChat(string Text, int CompletionTokens, string FinishReason, TimeSpan FirstToken, TimeSpan Total)
{
    public static async Task<StreamedChat> ReadAsync(TestServer server, object[] messages, int maxTokens)
    {
        var clock = Stopwatch.StartNew();
        using var response = await server.SendStreamingAsync("v1/chat/completions", new
        {
            messages, max_tokens = maxTokens, temperature = 0, stream = true, stream_options = new { include_usage = true },
        });
        Assert.Equal(200, (int)response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var text = new StringBuilder();
        string? id = null, finish = null;
        int chunks = 0, tokens = -1;
        TimeSpan first = TimeSpan.Zero;
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.False(done, "nothing may follow data: [DONE]");
            Assert.StartsWith("data: ", line);
            string data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }
            using var doc = JsonDocument.Parse(data);
            var chunk = doc.RootElement;
            Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString());
            string chunkId = chunk.GetProperty("id").GetString()!;
            Assert.Equal(id ??= chunkId, chunkId);
            var choices = chunk.GetProperty("choices");
            if (choices.GetArrayLength() == 0)
            {
                Assert.NotNull(finish);                                         // usage comes after the finish chunk
                tokens = chunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
                continue;
            }
            Assert.Null(finish);                                                // nothing after the finish chunk but usage
            var choice = choices[0];
            var delta = choice.GetProperty("delta");
            Assert.Equal(chunks == 0, delta.TryGetProperty("role", out _));   // the role first, and only there
            if (choice.GetProperty("finish_reason").GetString() is { } reason) finish = reason;
            else if (chunks > 0 && delta.GetProperty("content").GetString() is { Length: > 0 } content)
            {
                if (text.Length == 0) first = clock.Elapsed;
                text.Append(content);
            }
            chunks++;
        }
        Assert.True(done, "the stream must end with data: [DONE]");
        Assert.NotNull(finish);
        Assert.True(tokens >= 0, "the stream must carry a usage chunk");
        return new StreamedChat(text.ToString(), tokens, finish!, first, clock.Elapsed);
    }
}
