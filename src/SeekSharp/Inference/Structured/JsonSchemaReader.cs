using System.Text.Encodings.Web;
using System.Text.Json;

namespace SeekSharp.Inference.Structured;

/// <summary>
/// Reads a JSON schema into <see cref="JsonSchemaNode"/>s. Supported: "type" (one or a list of object, array, string,
/// number, integer, boolean, null), objects (properties, required; additionalProperties may only be false, which is
/// implied), arrays (items, minItems, maxItems), strings (minLength, maxLength), enum and const; title, description,
/// $schema, default, examples and strict are ignored. Anything else is a <see cref="JsonSchemaException"/> naming it.
/// </summary>
public static class JsonSchemaReader
{
    public const int MaxConstants = 64;
    public const int MaxProperties = 64;
    private const int MaxDepth = 32;

    private static readonly HashSet<string> s_ignored = ["title", "description", "$schema", "default", "examples", "$comment", "strict"];

    private static readonly JsonSerializerOptions s_compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    /// <exception cref="JsonSchemaException">An unsupported or inconsistent part, with its path.</exception>
    public static JsonSchemaNode Read(JsonElement schema) => Node(schema, "", 0);

    /// <summary>A value's compact JSON (UTF-8): an enum constant or a property name as it is generated.</summary>
    public static byte[] Serialize(JsonElement value) => JsonSerializer.SerializeToUtf8Bytes(value, s_compact);

    public static byte[] EncodeName(string name) => JsonSerializer.SerializeToUtf8Bytes(name, s_compact);

    private static string At(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static JsonSchemaNode Node(JsonElement s, string path, int depth)
    {
        if (depth > MaxDepth) throw new JsonSchemaException(path, $"the schema nests deeper than {MaxDepth} levels.");
        if (s.ValueKind != JsonValueKind.Object) throw new JsonSchemaException(path, $"a schema must be an object, not {Describe(s.ValueKind)}.");
        foreach (var p in s.EnumerateObject())
        {
            if (s_ignored.Contains(p.Name)) continue;
            if (p.Name is "type" or "properties" or "required" or "additionalProperties" or "items" or "minItems" or "maxItems"
                or "minLength" or "maxLength" or "enum" or "const") continue;
            throw new JsonSchemaException(path, $"'{p.Name}' is not supported.");
        }

        if (s.TryGetProperty("const", out var constant)) return Constants([constant], path);
        if (s.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                throw new JsonSchemaException(At(path, "enum"), "must be a non-empty array.");
            return Constants(values.EnumerateArray().ToList(), At(path, "enum"));
        }
        if (!s.TryGetProperty("type", out var type)) throw new JsonSchemaException(path, "a schema needs a 'type' (or 'enum' or 'const').");
        if (type.ValueKind == JsonValueKind.String) return Typed(s, type.GetString()!, path, depth);
        if (type.ValueKind != JsonValueKind.Array || type.GetArrayLength() == 0)
            throw new JsonSchemaException(At(path, "type"), "must be a string or a non-empty array of strings.");
        var alternatives = new List<JsonSchemaNode>();
        foreach (var t in type.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.String) throw new JsonSchemaException(At(path, "type"), "must be a string or a non-empty array of strings.");
            alternatives.Add(Typed(s, t.GetString()!, path, depth));
        }
        return alternatives.Count == 1 ? alternatives[0] : new JsonSchemaNode { Kind = JsonKind.Union, Alternatives = alternatives };
    }

    private static JsonSchemaNode Typed(JsonElement s, string type, string path, int depth)
    {
        switch (type)
        {
            case "object": return Object(s, path, depth);
            case "array":
                {
                    if (!s.TryGetProperty("items", out var items)) throw new JsonSchemaException(path, "an array schema needs 'items'.");
                    int min = Count(s, "minItems", path, 0), max = Count(s, "maxItems", path, int.MaxValue);
                    if (min > max) throw new JsonSchemaException(At(path, "minItems"), $"is above maxItems ({min} > {max}).");
                    return new JsonSchemaNode { Kind = JsonKind.Array, Items = Node(items, At(path, "items"), depth + 1), MinItems = min, MaxItems = max };
                }
            case "string":
                {
                    int min = Count(s, "minLength", path, 0), max = Count(s, "maxLength", path, int.MaxValue);
                    if (min > max) throw new JsonSchemaException(At(path, "minLength"), $"is above maxLength ({min} > {max}).");
                    return new JsonSchemaNode { Kind = JsonKind.String, MinLength = min, MaxLength = max };
                }
            case "number": return new JsonSchemaNode { Kind = JsonKind.Number };
            case "integer": return new JsonSchemaNode { Kind = JsonKind.Integer };
            case "boolean": return new JsonSchemaNode { Kind = JsonKind.Boolean };
            case "null": return new JsonSchemaNode { Kind = JsonKind.Null };
            default: throw new JsonSchemaException(At(path, "type"), $"type '{type}' is not supported (object, array, string, number, integer, boolean or null).");
        }
    }

    private static JsonSchemaNode Object(JsonElement s, string path, int depth)
    {
        if (s.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind != JsonValueKind.False)
            throw new JsonSchemaException(At(path, "additionalProperties"), "only false is supported (no properties beyond 'properties').");
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (s.TryGetProperty("required", out var req))
        {
            if (req.ValueKind != JsonValueKind.Array) throw new JsonSchemaException(At(path, "required"), "must be an array of property names.");
            foreach (var r in req.EnumerateArray())
            {
                if (r.ValueKind != JsonValueKind.String) throw new JsonSchemaException(At(path, "required"), "must be an array of property names.");
                required.Add(r.GetString()!);
            }
        }
        var properties = new List<JsonProperty>();
        if (s.TryGetProperty("properties", out var props))
        {
            if (props.ValueKind != JsonValueKind.Object) throw new JsonSchemaException(At(path, "properties"), "must be an object.");
            foreach (var p in props.EnumerateObject())
                properties.Add(new JsonProperty(p.Name, EncodeName(p.Name), Node(p.Value, At(At(path, "properties"), p.Name), depth + 1), required.Contains(p.Name)));
        }
        if (properties.Count > MaxProperties) throw new JsonSchemaException(At(path, "properties"), $"more than {MaxProperties} properties are not supported.");
        foreach (var r in required)
            if (!properties.Exists(p => p.Name == r)) throw new JsonSchemaException(At(path, "required"), $"'{r}' is not in 'properties'.");
        return new JsonSchemaNode { Kind = JsonKind.Object, Properties = properties };
    }

    private static JsonSchemaNode Constants(List<JsonElement> values, string path)
    {
        if (values.Count > MaxConstants) throw new JsonSchemaException(path, $"more than {MaxConstants} values are not supported.");
        var constants = values.Select(Serialize).Distinct(ByteArrayComparer.Instance).ToArray();
        return new JsonSchemaNode { Kind = JsonKind.Constants, Constants = constants };
    }

    private static int Count(JsonElement s, string name, string path, int absent)
    {
        if (!s.TryGetProperty(name, out var v)) return absent;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0)
            throw new JsonSchemaException(At(path, name), "must be a non-negative integer.");
        return n;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] obj)
        {
            var h = new HashCode();
            h.AddBytes(obj);
            return h.ToHashCode();
        }
    }
}
