using System.Net;
using System.Text;
using System.Text.Json;
using SeekSharp.Tests.Server;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Mutated request bodies for /v1/chat/completions, /v1/completions, /tokenize and /detokenize on the shared test server: each is answered
/// with a 2xx, or a 4xx in OpenAI's error shape, never a 500; and the server keeps serving (docs/reliability.md).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ServerFuzzTests(SharedServer shared, ITestOutputHelper output)
{
    private static readonly string[] RequestTokens =
    [
        .. Mutator.JsonTokens, "\"messages\":", "\"prompt\":", "\"max_tokens\":", "\"stream\": true", "\"logprobs\": true", "\"top_logprobs\":",
        "\"stop\":", "\"seed\":", "\"response_format\": {\"type\": \"json_object\"}", "\"temperature\":", "\"n\":", "\"echo\": true",
        "\"stream_options\": {\"include_usage\": true}", "\"logit_bias\": {\"5\": 100}", "\"model\": \"golden-v3\"", "\"suffix\": \"x\"",
    ];

    [Fact]
    public void ChatCompletionBodiesAreAnsweredWithoutA500()
    {
        var corpus = new Corpus("HTTP /v1/chat/completions",
        [
            ("chat", """{"model": "golden-v3", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_tokens": 3, "temperature": 0.7, "top_p": 0.9, "seed": 1, "stop": ["\n"]}"""u8.ToArray()),
            ("chat stream", """{"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_completion_tokens": 2, "stream": true, "stream_options": {"include_usage": true}, "logprobs": true, "top_logprobs": 2}"""u8.ToArray()),
            ("chat json", """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}, {"role": "user", "content": "Go"}], "max_tokens": 4, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}, "frequency_penalty": 0.5, "presence_penalty": 0.1}"""u8.ToArray()),
        ], RequestTokens, json: true);
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input => Post("v1/chat/completions", input.Bytes), FuzzRunner.Iterations(100), output);
        Post("v1/chat/completions", Encoding.UTF8.GetBytes("""{"messages": [{"role": "user", "content": "still there?"}], "max_tokens": 1}"""), mustSucceed: true);
    }

    [Fact]
    public void CompletionBodiesAreAnsweredWithoutA500()
    {
        var corpus = new Corpus("HTTP /v1/completions",
        [
            ("completion", """{"model": "golden-v3", "prompt": "Once upon", "max_tokens": 3, "temperature": 0, "stop": "."}"""u8.ToArray()),
            ("completion ids", """{"prompt": [1, 2, 3, 4], "max_tokens": 2, "stream": true, "logprobs": 2, "echo": true, "seed": 7}"""u8.ToArray()),
        ], RequestTokens, json: true);
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input => Post("v1/completions", input.Bytes), FuzzRunner.Iterations(100), output);
        Post("v1/completions", Encoding.UTF8.GetBytes("""{"prompt": "still there?", "max_tokens": 1}"""), mustSucceed: true);
    }

    [Fact]
    public void TokenizeBodiesAreAnsweredWithoutA500()
    {
        var corpus = new Corpus("HTTP /tokenize",
        [
            ("prompt", """{"model": "golden-v3", "prompt": "Once upon a time", "add_special_tokens": false}"""u8.ToArray()),
            ("messages", """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "add_generation_prompt": true}"""u8.ToArray()),
        ], [.. RequestTokens, "\"add_special_tokens\":", "\"add_generation_prompt\": false", "\"tokens\": [1, 2]"], json: true);
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input => Post("tokenize", input.Bytes), FuzzRunner.Iterations(100), output);
        Post("tokenize", Encoding.UTF8.GetBytes("""{"prompt": "still there?"}"""), mustSucceed: true);
    }

    [Fact]
    public void DetokenizeBodiesAreAnsweredWithoutA500()
    {
        var corpus = new Corpus("HTTP /detokenize",
        [
            ("tokens", """{"model": "golden-v3", "tokens": [1, 2, 3, 40, 499]}"""u8.ToArray()),
            ("empty", """{"tokens": []}"""u8.ToArray()),
        ], [.. RequestTokens, "\"tokens\":", "[-1]", "[2147483647]", "[1.5]", "[\"a\"]"], json: true);
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input => Post("detokenize", input.Bytes), FuzzRunner.Iterations(100), output);
        Post("detokenize", Encoding.UTF8.GetBytes("""{"tokens": [5, 6]}"""), mustSucceed: true);
    }

    // Found by the fuzzer: both were 500s (System.Text.Json reads UTF-8 and escapes lazily, and throws InvalidOperationException).
    [Theory]
    [InlineData("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi \xFF\"}]}")]
    [InlineData("v1/completions", "{\"prompt\": \"Once \\ud800\"}")]
    [InlineData("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"\\udc00\": 1}")]
    public async Task BodiesThatAreNotTextAre400(string path, string body)
    {
        // "\xFF" above is the character U+00FF; written as Latin-1 it is the byte 0xFF, which is not UTF-8.
        var bytes = body.Select(c => (byte)c).ToArray();
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await shared.Server.Http.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Contains("invalid_json", text);
    }

    // Found by the 3,000-input run: the prompt's length plus 2^31 − 1 wrapped negative, passed the context check and was a 500.
    [Fact]
    public async Task MaxTokensOfIntMaxIsAContextError()
    {
        using var response = await shared.Server.PostAsync("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 2147483647}");
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Contains("context_length_exceeded", text);
    }

    private void Post(string path, byte[] body, bool mustSucceed = false)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = shared.Server.Http.PostAsync(path, content).GetAwaiter().GetResult();
        string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        int status = (int)response.StatusCode;
        if (status >= 500 || mustSucceed && status != 200)
            throw new XunitException($"{path} answered {status}: {text}");
        if (status < 400) return;
        // An error: OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with a message.
        try
        {
            using var json = JsonDocument.Parse(text);
            var error = json.RootElement.GetProperty("error");
            if (string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()) || error.GetProperty("type").ValueKind != JsonValueKind.String)
                throw new XunitException($"{path} answered {status} with an error without message or type: {text}");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new XunitException($"{path} answered {status} with a body that is not an OpenAI error ({e.Message}): {text}");
        }
        if (response.StatusCode is not (HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.TooManyRequests))
            throw new XunitException($"{path} answered {status}, not a status a bad body should get: {text}");
    }
}
