using System.Net;
using System.Text;
using System.Text.Json;
using SeekSharp.Tests.Inference.Structured;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>
/// response_format against a real server with the golden (random) model at temperature 1: every reply parses and
/// validates against its schema, streamed or not, and finishes with "stop".
/// </summary>
[Collection(ServerCollection.Name)]
public class StructuredOutputTests(SharedServer shared)
{
    private TestServer Server => shared.Server;

    private const string Person = """
        {"type": "object",
         "properties": {
           "name": {"type": "string", "maxLength": 8},
           "age": {"type": "integer"},
           "member": {"type": "boolean"},
           "color": {"enum": ["red", "green", "blue"]},
           "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 2},
           "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 6}}, "required": ["city"]}
         },
         "required": ["name", "age", "member", "color", "tags", "address"],
         "additionalProperties": false}
        """;

    private const string Scores = """
        {"type": "object",
         "properties": {"scores": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 4}, "ok": {"type": ["boolean", "null"]}},
         "required": ["scores", "ok"]}
        """;

    private static object Body(object format, ulong seed, bool stream) => new Dictionary<string, object>
    {
        ["messages"] = new[] { new { role = "user", content = "Describe a person as JSON." } },
        ["temperature"] = 1,
        ["seed"] = seed,
        ["max_tokens"] = 100,
        ["stream"] = stream,
        ["response_format"] = format,
    };

    private static object SchemaFormat(string schema) => new
    {
        type = "json_schema",
        json_schema = new { name = "answer", schema = JsonDocument.Parse(schema).RootElement, strict = true },
    };

    private async Task<(string Content, string Finish)> Complete(object body, bool stream)
    {
        if (!stream)
        {
            var (text, json) = await Server.ChatAsync(body);
            return (text, json.GetProperty("choices")[0].GetProperty("finish_reason").GetString()!);
        }
        using var response = await Server.SendStreamingAsync("v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var content = new StringBuilder();
        string? finish = null;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            if (line == "data: [DONE]") break;
            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            var choice = chunk.RootElement.GetProperty("choices")[0];
            if (choice.GetProperty("delta").TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) content.Append(c.GetString());
            if (choice.GetProperty("finish_reason").ValueKind == JsonValueKind.String) finish = choice.GetProperty("finish_reason").GetString();
        }
        return (content.ToString(), finish!);
    }

    [Theory]
    [InlineData(1UL, false)]
    [InlineData(2UL, true)]
    [InlineData(3UL, false)]
    [InlineData(4UL, true)]
    public async Task JsonSchemaRepliesValidate(ulong seed, bool stream)
    {
        foreach (var schema in new[] { Person, Scores })
        {
            var (content, finish) = await Complete(Body(SchemaFormat(schema), seed, stream), stream);
            Assert.Equal("stop", finish);
            using var doc = JsonDocument.Parse(content);
            Assert.Null(JsonSchemaValidator.Validate(doc.RootElement, JsonDocument.Parse(schema).RootElement));
        }
    }

    [Theory]
    [InlineData(5UL, false)]
    [InlineData(6UL, true)]
    [InlineData(7UL, false)]
    public async Task JsonObjectRepliesAreObjects(ulong seed, bool stream)
    {
        var (content, finish) = await Complete(Body(new { type = "json_object" }, seed, stream), stream);
        Assert.Equal("stop", finish);
        using var doc = JsonDocument.Parse(content);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
    }

    [Fact]
    public async Task CompletionsTakeResponseFormatToo()
    {
        using var response = await Server.PostAsync("v1/completions", new Dictionary<string, object>
        {
            ["prompt"] = "JSON:",
            ["temperature"] = 1,
            ["seed"] = 8,
            ["max_tokens"] = 100,
            ["response_format"] = SchemaFormat(Scores),
        });
        var json = await TestServer.JsonOf(response);
        Assert.True(response.IsSuccessStatusCode, json.ToString());
        using var doc = JsonDocument.Parse(json.GetProperty("choices")[0].GetProperty("text").GetString()!);
        Assert.Null(JsonSchemaValidator.Validate(doc.RootElement, JsonDocument.Parse(Scores).RootElement));
    }

    [Fact]
    public async Task AnUnsupportedSchemaPartIsA400NamingIt()
    {
        var body = Body(SchemaFormat("""{"type": "object", "properties": {"x": {"type": "string", "format": "email"}}}"""), 1, false);
        using var response = await Server.PostAsync("v1/chat/completions", body);
        var error = await ErrorTests.AssertError(response, HttpStatusCode.BadRequest, "response_format.json_schema.schema.properties.x", "invalid_json_schema");
        Assert.Contains("'format' is not supported", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task TooFewTokensForTheJsonFinishWithLength()
    {
        var body = Body(SchemaFormat(Person), 1, false);
        ((Dictionary<string, object>)body)["max_tokens"] = 5;
        var (_, finish) = await Complete(body, false);
        Assert.Equal("length", finish);
    }
}
