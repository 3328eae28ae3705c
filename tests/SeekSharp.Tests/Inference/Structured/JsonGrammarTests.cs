using System.Text;
using System.Text.Json;
using SeekSharp.Inference.Structured;
using Xunit;

namespace SeekSharp.Tests.Inference.Structured;

/// <summary>The JSON grammar automaton: complete texts accepted, their prefixes open, invalid texts rejected at the first bad byte.</summary>
public class JsonGrammarTests
{
    internal const string PersonSchema = """
        {"type": "object",
         "properties": {
           "name": {"type": "string", "maxLength": 12},
           "age": {"type": "integer"},
           "height": {"type": "number"},
           "member": {"type": "boolean"},
           "color": {"enum": ["red", "green", "blue"]},
           "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "minItems": 1, "maxItems": 3},
           "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10}, "zip": {"type": ["string", "null"], "maxLength": 5}}, "required": ["city"], "additionalProperties": false},
           "nickname": {"type": "string"}
         },
         "required": ["name", "age", "height", "member", "color", "tags", "address"],
         "additionalProperties": false}
        """;

    private static JsonGrammar Schema(string json) => JsonGrammar.FromSchema(JsonDocument.Parse(json).RootElement);

    private static JsonGrammarState? Feed(JsonGrammar g, string text) => g.Start.Feed(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("""{"name":"Ann","age":31,"height":1.75,"member":true,"color":"red","tags":["a"],"address":{"city":"Oslo"}}""")]
    [InlineData("""{"address": {"zip": null, "city": ""},"tags":["a","bcde","é"],"color":"blue","member":false,"height":-0.5,"age":0,"name":"\"x\\n"}""")]
    [InlineData("""{"name":"😀","age":-12,"height":3,"member":true,"color":"green","tags":["x"],"address":{"city":"a","zip":"12345"},"nickname":"n"}""")]
    public void CompleteTextsOfTheSchemaAreAcceptedAndEveryPrefixIsOpen(string text)
    {
        var g = Schema(PersonSchema);
        var bytes = Encoding.UTF8.GetBytes(text);
        var state = g.Start;
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.False(state.IsComplete, $"complete after {i} bytes");
            Assert.True(state.MinBytesToFinish <= bytes.Length - i, $"min bytes {state.MinBytesToFinish} > {bytes.Length - i} left at {i}");
            state = state.Feed(bytes[i]) ?? throw new Xunit.Sdk.XunitException($"byte {i} ('{(char)bytes[i]}') rejected in {text}");
        }
        Assert.True(state.IsComplete);
        Assert.Equal(0, state.MinBytesToFinish);
        Assert.Null(state.Feed((byte)' '));
    }

    [Theory]
    [InlineData("""{"name":"Ann","age":31.5""", "a fraction for an integer")]
    [InlineData("""{"name":"Ann","name""", "a key twice")]
    [InlineData("""{"nam":""", "an unknown key")]
    [InlineData("""{"color":"pink""", "a value outside the enum")]
    [InlineData("""{"name":"Ann"}""", "closing before the required properties")]
    [InlineData("""{"tags":[]""", "fewer than minItems")]
    [InlineData("""{"tags":["a","b","c","d""", "more than maxItems")]
    [InlineData("""{"tags":["abcdef""", "longer than maxLength")]
    [InlineData("""{"member":tru,""", "a broken literal")]
    [InlineData("""{"age":01""", "a leading zero")]
    [InlineData("""{"name":"a""" + "\n", "a raw control character in a string")]
    [InlineData("""{"name":"\u""", "a \\u escape")]
    [InlineData("""{  "name""", "two whitespace bytes in a row")]
    [InlineData(""" {"name""", "leading whitespace")]
    [InlineData("""["a"]""", "an array for an object")]
    public void InvalidTextsAreRejected(string text, string why)
    {
        Assert.True(Feed(Schema(PersonSchema), text) is null, why);
    }

    [Fact]
    public void InvalidUtf8IsRejectedInsideStrings()
    {
        var g = Schema("""{"type": "string"}""");
        Assert.NotNull(g.Start.Feed([(byte)'"', 0xC3]));                     // the first byte of é: open
        Assert.Null(g.Start.Feed([(byte)'"', 0xC3, (byte)'"']));             // a character cut short
        Assert.Null(g.Start.Feed([(byte)'"', 0x80]));                        // a stray continuation byte
        Assert.Null(g.Start.Feed([(byte)'"', 0xED, 0xA0, 0x80]));            // an encoded surrogate
        Assert.True(g.Start.Feed([(byte)'"', 0xC3, 0xA9, (byte)'"'])!.IsComplete);
    }

    [Fact]
    public void NumbersAtTheRootMayStopOrGoOn()
    {
        var g = Schema("""{"type": "number"}""");
        var s = Feed(g, "12")!;
        Assert.True(s.CanStop);
        Assert.False(s.IsComplete);
        Assert.NotNull(s.Feed((byte)'3'));
        Assert.False(Feed(g, "12.")!.CanStop);
        Assert.Null(Feed(g, "1234567890123456"));   // past the digit limit
    }

    [Fact]
    public void AnyObjectAcceptsNestedJsonAndNothingElse()
    {
        var g = JsonGrammar.AnyObject();
        Assert.True(g.Accepts("""{"a":[1,-2.5,"x",{"b":null}],"c":{"d":true,"e":false},"f":""}"""));
        Assert.True(g.Accepts("{}"));
        Assert.False(g.Accepts("[]"));
        Assert.False(g.Accepts("\"x\""));
        Assert.False(g.Accepts("{\"a\":}"));
        Assert.False(g.Accepts("{\"a\":1,}"));
        Assert.Null(Feed(g, "{\"a\":[[[[[")); // deeper than the free-form limit
    }

    [Fact]
    public void EnumsOfMixedConstantsMatchExactly()
    {
        var g = Schema("""{"enum": ["a", 1, 12, null, true, {"k": [1]}]}""");
        foreach (var ok in new[] { "\"a\"", "1", "12", "null", "true", """{"k":[1]}""" }) Assert.True(g.Accepts(ok), ok);
        foreach (var bad in new[] { "\"b\"", "2", "123", "false", """{"k":[2]}""" }) Assert.False(g.Accepts(bad), bad);
        Assert.True(Feed(g, "1")!.CanStop);         // 1, or the start of 12
        Assert.True(Feed(g, "\"a\"")!.IsComplete);
    }

    [Theory]
    [InlineData("""{"type": "object", "properties": {"x": {"oneOf": []}}}""", "properties.x", "'oneOf' is not supported")]
    [InlineData("""{"type": "object", "properties": {"x": {"type": "string", "pattern": "a+"}}}""", "properties.x", "'pattern' is not supported")]
    [InlineData("""{"type": "array", "items": {"$ref": "#/$defs/a"}}""", "items", "'$ref' is not supported")]
    [InlineData("""{"type": "object", "additionalProperties": true}""", "additionalProperties", "only false")]
    [InlineData("""{"type": "object", "properties": {}, "required": ["y"]}""", "required", "'y' is not in 'properties'")]
    [InlineData("""{"type": "date"}""", "type", "type 'date' is not supported")]
    [InlineData("""{"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 2}""", "minItems", "above maxItems")]
    [InlineData("""{"properties": {}}""", "", "needs a 'type'")]
    [InlineData("""[1]""", "", "must be an object")]
    public void UnsupportedSchemaPartsAreNamed(string schema, string path, string reason)
    {
        var e = Assert.Throws<JsonSchemaException>(() => Schema(schema));
        Assert.Equal(path, e.Path);
        Assert.Contains(reason, e.Reason);
    }
}
