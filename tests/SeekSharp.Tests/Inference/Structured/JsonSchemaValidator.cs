using System.Text.Json;

namespace SeekSharp.Tests.Inference.Structured;

/// <summary>An independent check of a JSON value against the supported schema subset (for the tests): null when valid, else why not.</summary>
internal static class JsonSchemaValidator
{
    public static string? Validate(JsonElement value, JsonElement schema, string path = "$")
    {
        if (schema.TryGetProperty("const", out var c))
            return JsonElement.DeepEquals(value, c) ? null : $"{path}: not the constant {c}";
        if (schema.TryGetProperty("enum", out var e))
            return e.EnumerateArray().Any(x => JsonElement.DeepEquals(value, x)) ? null : $"{path}: {value} is not in the enum";
        var type = schema.GetProperty("type");
        if (type.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in type.EnumerateArray())
                if (ValidateType(value, schema, t.GetString()!, path) is null) return null;
            return $"{path}: {value} is none of {type}";
        }
        return ValidateType(value, schema, type.GetString()!, path);
    }

    private static string? ValidateType(JsonElement value, JsonElement schema, string type, string path)
    {
        switch (type)
        {
            case "string":
                if (value.ValueKind != JsonValueKind.String) return $"{path}: not a string";
                int len = value.GetString()!.Length;
                if (schema.TryGetProperty("minLength", out var minL) && len < minL.GetInt32()) return $"{path}: shorter than minLength";
                if (schema.TryGetProperty("maxLength", out var maxL) && len > maxL.GetInt32()) return $"{path}: longer than maxLength";
                return null;
            case "number":
                return value.ValueKind == JsonValueKind.Number ? null : $"{path}: not a number";
            case "integer":
                return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _) ? null : $"{path}: not an integer";
            case "boolean":
                return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : $"{path}: not a boolean";
            case "null":
                return value.ValueKind == JsonValueKind.Null ? null : $"{path}: not null";
            case "array":
                {
                    if (value.ValueKind != JsonValueKind.Array) return $"{path}: not an array";
                    int n = value.GetArrayLength();
                    if (schema.TryGetProperty("minItems", out var min) && n < min.GetInt32()) return $"{path}: fewer than minItems";
                    if (schema.TryGetProperty("maxItems", out var max) && n > max.GetInt32()) return $"{path}: more than maxItems";
                    int i = 0;
                    foreach (var item in value.EnumerateArray())
                        if (Validate(item, schema.GetProperty("items"), $"{path}[{i++}]") is { } why) return why;
                    return null;
                }
            case "object":
                {
                    if (value.ValueKind != JsonValueKind.Object) return $"{path}: not an object";
                    var props = schema.TryGetProperty("properties", out var p) ? p : default;
                    var seen = new HashSet<string>();
                    foreach (var member in value.EnumerateObject())
                    {
                        if (!seen.Add(member.Name)) return $"{path}: duplicate key {member.Name}";
                        if (props.ValueKind != JsonValueKind.Object || !props.TryGetProperty(member.Name, out var ps)) return $"{path}: unexpected key {member.Name}";
                        if (Validate(member.Value, ps, $"{path}.{member.Name}") is { } why) return why;
                    }
                    if (schema.TryGetProperty("required", out var req))
                        foreach (var r in req.EnumerateArray())
                            if (!seen.Contains(r.GetString()!)) return $"{path}: missing required {r}";
                    return null;
                }
            default:
                return $"{path}: unknown type {type}";
        }
    }
}
