using System.Text.Json;

namespace SeekSharp.Inference.Structured;

/// <summary>
/// The JSON texts structured output may produce: any object (json_object) or the values of a schema (json_schema),
/// within <see cref="JsonLimits"/>. <see cref="Start"/> is the state before the first byte.
/// </summary>
public sealed class JsonGrammar
{
    private JsonGrammar(JsonSchemaNode root, JsonLimits limits)
    {
        Root = root;
        Limits = limits;
    }

    public JsonSchemaNode Root { get; }
    public JsonLimits Limits { get; }

    public JsonGrammarState Start => JsonGrammarState.Initial(this);

    /// <summary>Any JSON object (OpenAI's response_format json_object).</summary>
    public static JsonGrammar AnyObject(JsonLimits? limits = null)
    {
        limits ??= JsonLimits.Default;
        var value = new JsonSchemaNode { Kind = JsonKind.Any, Depth = 1 };
        return new JsonGrammar(new JsonSchemaNode { Kind = JsonKind.Object, FreeForm = true, Items = value, MaxItems = limits.MaxItems }, limits);
    }

    /// <exception cref="JsonSchemaException">A part of the schema that is not supported, with its path.</exception>
    public static JsonGrammar FromSchema(JsonElement schema, JsonLimits? limits = null) =>
        new(JsonSchemaReader.Read(schema), limits ?? JsonLimits.Default);

    /// <summary>Whether <paramref name="text"/> is a complete text of this grammar.</summary>
    public bool Accepts(string text) => Start.Feed(System.Text.Encoding.UTF8.GetBytes(text)) is { CanStop: true };
}
