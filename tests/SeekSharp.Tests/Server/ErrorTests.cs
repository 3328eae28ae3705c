using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>Bad requests get OpenAI's error shape with the right status, never a 500, and the server keeps serving.</summary>
[Collection(ServerCollection.Name)]
public class ErrorTests(SharedServer shared)
{
    private TestServer Server => shared.Server;

    /// <summary>Asserts the status and {"error": {"message", "type", "param", "code"}}; returns the error object.</summary>
    internal static async Task<JsonElement> AssertError(HttpResponseMessage response, HttpStatusCode status, string? param = null, string? code = null)
    {
        var json = await TestServer.JsonOf(response);
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {json}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = json.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(p => p.Name));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
        if (code is not null) Assert.Equal(code, error.GetProperty("code").GetString());
        return error;
    }

    private static object User(string text) => new[] { new { role = "user", content = text } };

    public static TheoryData<string, string, string?, string?> BadChatBodies => new()
    {
        { "{\"messages\": [", "malformed JSON", null, "invalid_json" },
        { "[1, 2]", "not an object", null, "invalid_json" },
        { "{}", "no messages", "messages", "missing_required_parameter" },
        { "{\"messages\": []}", "empty messages", "messages", "empty_array" },
        { "{\"messages\": \"hi\"}", "messages not an array", "messages", "invalid_type" },
        { "{\"messages\": [\"hi\"]}", "a message not an object", "messages[0]", "invalid_type" },
        { "{\"messages\": [{\"content\": \"hi\"}]}", "no role", "messages[0].role", "missing_required_parameter" },
        { "{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", "unknown role", "messages[0].role", "invalid_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": 42}]}", "content a number", "messages[0].content", "invalid_type" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", "an image part", "messages[0].content[0].type", "unsupported_parameter" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": \"hot\"}", "temperature a string", "temperature", "invalid_type" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 3}", "temperature above 2", "temperature", "decimal_above_max_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_p\": -0.5}", "top_p below 0", "top_p", "decimal_below_min_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 0}", "max_tokens 0", "max_tokens", "integer_below_min_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": -5}", "max_tokens negative", "max_tokens", "integer_below_min_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_completion_tokens\": 0}", "max_completion_tokens 0", "max_completion_tokens", "integer_below_min_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 2.5}", "max_tokens fractional", "max_tokens", "invalid_type" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 2}", "n = 2", "n", "unsupported_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stream\": \"yes\"}", "stream a string", "stream", "invalid_type" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stream_options\": {\"include_usage\": true}}", "stream_options without stream", "stream_options", "invalid_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stop\": 5}", "stop a number", "stop", "invalid_type" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stop\": [\"a\", 5]}", "stop with a number", "stop[1]", "invalid_type" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"seed\": \"x\"}", "seed a string", "seed", "invalid_type" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_logprobs\": 2}", "top_logprobs without logprobs", "top_logprobs", "invalid_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"logprobs\": true, \"top_logprobs\": 21}", "top_logprobs above 20", "top_logprobs", "integer_above_max_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"frequency_penalty\": 9}", "frequency_penalty above 2", "frequency_penalty", "decimal_above_max_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"response_format\": {\"type\": \"xml\"}}", "an unknown response format", "response_format.type", "invalid_value" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"schema\": {\"type\": \"object\", \"properties\": {\"x\": {\"oneOf\": []}}}}}}", "an unsupported schema part", "response_format.json_schema.schema.properties.x", "invalid_json_schema" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": [{\"type\": \"function\"}]}", "tools", "tools", "unsupported_parameter" },
        { "{\"messages\": [{\"role\": \"tool\", \"content\": \"hi\"}]}", "a tool message", "messages[0].role", "unsupported_parameter" },
    };

    [Theory]
    [MemberData(nameof(BadChatBodies))]
    public async Task BadChatRequestsAre400(string body, string what, string? param, string? code)
    {
        using var response = await Server.PostAsync("v1/chat/completions", body);
        var error = await AssertError(response, HttpStatusCode.BadRequest, param, code);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.NotNull(what);
    }

    [Fact]
    public async Task UnknownModelIs404()
    {
        using var chat = await Server.PostAsync("v1/chat/completions", new { model = "gpt-4o", messages = User("hi") });
        var error = await AssertError(chat, HttpStatusCode.NotFound, "model", "model_not_found");
        Assert.Contains("gpt-4o", error.GetProperty("message").GetString());
        using var completion = await Server.PostAsync("v1/completions", new { model = "gpt-4o", prompt = "hi" });
        await AssertError(completion, HttpStatusCode.NotFound, "model", "model_not_found");
        using var get = await Server.Http.GetAsync("v1/models/gpt-4o");
        await AssertError(get, HttpStatusCode.NotFound, "model", "model_not_found");
    }

    [Fact]
    public async Task PromptsLongerThanTheContextAre400()
    {
        // The golden model has 128 positions.
        string longText = string.Join(" ", Enumerable.Repeat("latent attention", 200));
        using var chat = await Server.PostAsync("v1/chat/completions", new { messages = User(longText) });
        var error = await AssertError(chat, HttpStatusCode.BadRequest, "messages", "context_length_exceeded");
        Assert.Contains("128", error.GetProperty("message").GetString());
        using var completion = await Server.PostAsync("v1/completions", new { prompt = longText });
        await AssertError(completion, HttpStatusCode.BadRequest, "prompt", "context_length_exceeded");
        // A prompt that fits, with a reply that does not.
        using var tooMuch = await Server.PostAsync("v1/chat/completions", new { messages = User("hi"), max_tokens = 500 });
        await AssertError(tooMuch, HttpStatusCode.BadRequest, "max_tokens", "context_length_exceeded");
    }

    [Fact]
    public async Task BadCompletionTokenizeAndDetokenizeRequestsAre400()
    {
        (string Path, string Body, string Param)[] cases =
        [
            ("v1/completions", "{}", "prompt"),
            ("v1/completions", "{\"prompt\": 5}", "prompt"),
            ("v1/completions", "{\"prompt\": [1, 99999]}", "prompt[1]"),
            ("v1/completions", "{\"prompt\": [\"a\", \"b\"]}", "prompt"),
            ("v1/completions", "{\"prompt\": \"hi\", \"echo\": true}", "echo"),
            ("v1/completions", "{\"prompt\": \"hi\", \"logprobs\": 6}", "logprobs"),
            ("tokenize", "{}", "prompt"),
            ("tokenize", "{\"prompt\": 3}", "prompt"),
            ("tokenize", "{\"messages\": []}", "messages"),
            ("detokenize", "{}", "tokens"),
            ("detokenize", "{\"tokens\": \"1 2\"}", "tokens"),
            ("detokenize", "{\"tokens\": [1, -1]}", "tokens[1]"),
            ("detokenize", "{\"tokens\": [1, 100000]}", "tokens[1]"),
        ];
        foreach (var (path, body, param) in cases)
        {
            using var response = await Server.PostAsync(path, body);
            await AssertError(response, HttpStatusCode.BadRequest, param);
        }
    }

    [Fact]
    public async Task UnknownUrlsAndMethodsGetErrorsInTheSameShape()
    {
        using var unknown = await Server.Http.GetAsync("v1/engines");
        await AssertError(unknown, HttpStatusCode.NotFound, code: "unknown_url");
        using var method = await Server.Http.GetAsync("v1/chat/completions");
        await AssertError(method, HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task TheServerKeepsServingAfterBadRequests()
    {
        for (int i = 0; i < 3; i++)
        {
            using var bad = await Server.PostAsync("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": {\"a\": [}");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
        var (text, json) = await Server.ChatAsync(new { messages = User("hi"), max_tokens = 3, temperature = 0 });
        Assert.Equal(3, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.NotNull(text);
    }

    [Fact]
    public async Task TokenizeAndDetokenizeRoundTrip()
    {
        using var tokenized = await Server.PostAsync("tokenize", new { prompt = "latent attention" });
        var json = await TestServer.JsonOf(tokenized);
        var ids = json.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(ids.Length, json.GetProperty("count").GetInt32());
        Assert.Equal(128, json.GetProperty("max_model_len").GetInt32());
        Assert.Equal(0, ids[0]);   // BOS: the tiny tokenizer adds it
        using var detokenized = await Server.PostAsync("detokenize", new { tokens = ids[1..] });
        Assert.Equal("latent attention", (await TestServer.JsonOf(detokenized)).GetProperty("prompt").GetString());

        using var chat = await Server.PostAsync("tokenize", new { messages = User("hi") });
        var chatIds = (await TestServer.JsonOf(chat)).GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var (_, reply) = await Server.ChatAsync(new { messages = User("hi"), max_tokens = 1, temperature = 0 });
        Assert.Equal(chatIds.Length, reply.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}

/// <summary>A server with an API key and a small body limit.</summary>
public class GuardedServerTests
{
    [Fact]
    public async Task ApiKeyAndBodyLimit()
    {
        await using var server = await TestServer.StartAsync(o => o with { ApiKey = "s3cret-key", MaxRequestBytes = 4096 });
        var body = new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 2, temperature = 0 };

        using (var missing = await server.PostAsync("v1/chat/completions", body))
            await ErrorTests.AssertError(missing, HttpStatusCode.Unauthorized, code: "missing_api_key");
        server.Authorize("wrong-key");
        using (var wrong = await server.PostAsync("v1/chat/completions", body))
            await ErrorTests.AssertError(wrong, HttpStatusCode.Unauthorized, code: "invalid_api_key");
        server.Authorize("s3cret-key-but-longer");
        using (var longer = await server.PostAsync("v1/chat/completions", body))
            await ErrorTests.AssertError(longer, HttpStatusCode.Unauthorized, code: "invalid_api_key");
        using (var metrics = await server.Http.GetAsync("metrics"))
            Assert.Equal(HttpStatusCode.Unauthorized, metrics.StatusCode);

        server.Http.DefaultRequestHeaders.Authorization = null;
        using (var health = await server.Http.GetAsync("health"))
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);   // no key needed

        server.Authorize("s3cret-key");
        var (_, ok) = await server.ChatAsync(body);
        Assert.Equal(2, ok.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        // Over the limit, with a Content-Length and without one (chunked).
        string big = JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = new string('x', 20_000) } } });
        using (var tooLarge = await server.PostAsync("v1/chat/completions", big))
            await ErrorTests.AssertError(tooLarge, HttpStatusCode.RequestEntityTooLarge, code: "request_too_large");
        var chunked = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))) };
        chunked.Headers.TransferEncodingChunked = true;
        using (var tooLargeChunked = await server.Http.SendAsync(chunked))
            await ErrorTests.AssertError(tooLargeChunked, HttpStatusCode.RequestEntityTooLarge, code: "request_too_large");

        var (_, still) = await server.ChatAsync(body);
        Assert.Equal(2, still.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }
}
