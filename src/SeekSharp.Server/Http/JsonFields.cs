using System.Globalization;
using System.Text.Json;

namespace SeekSharp.Server.Http;

/// <summary>
/// Typed reads of a request's fields, each failing with a 400 that names the field (OpenAI's "param") and says what
/// was expected. An absent field and an explicit null both read as "not given".
/// </summary>
internal static class JsonFields
{
    public static bool TryGet(JsonElement obj, string name, out JsonElement value)
    {
        if (obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public static string? String(JsonElement obj, string name, string? param = null)
    {
        if (!TryGet(obj, name, out var v)) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw WrongType(param ?? name, "a string", v);
    }

    public static bool? Bool(JsonElement obj, string name, string? param = null)
    {
        if (!TryGet(obj, name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(param ?? name, "a boolean", v),
        };
    }

    public static double? Number(JsonElement obj, string name, double min, double max, string? param = null)
    {
        if (!TryGet(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double x) || !double.IsFinite(x)) throw WrongType(param ?? name, "a number", v);
        if (x < min) throw OutOfRange(param ?? name, $"decimal below minimum value. Expected a value >= {F(min)}, but got {F(x)} instead.", "decimal_below_min_value");
        if (x > max) throw OutOfRange(param ?? name, $"decimal above maximum value. Expected a value <= {F(max)}, but got {F(x)} instead.", "decimal_above_max_value");
        return x;
    }

    public static long? Integer(JsonElement obj, string name, long min, long max, string? param = null)
    {
        if (!TryGet(obj, name, out var v)) return null;
        return IntegerValue(v, param ?? name, min, max);
    }

    public static long IntegerValue(JsonElement v, string param, long min, long max)
    {
        if (v.ValueKind != JsonValueKind.Number) throw WrongType(param, "an integer", v);
        if (!v.TryGetInt64(out long x))
        {
            // A whole number written as 5.0 is an integer; 5.5 or 1e30 is not.
            if (v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < 9e15) x = (long)d;
            else throw WrongType(param, "an integer", v);
        }
        if (x < min) throw OutOfRange(param, $"integer below minimum value. Expected a value >= {min}, but got {x} instead.", "integer_below_min_value");
        if (x > max) throw OutOfRange(param, $"integer above maximum value. Expected a value <= {max}, but got {x} instead.", "integer_above_max_value");
        return x;
    }

    public static ApiError WrongType(string param, string expected, JsonElement got) =>
        ApiError.BadRequest($"Invalid type for '{param}': expected {expected}, but got {Describe(got.ValueKind)} instead.", param, "invalid_type");

    public static ApiError OutOfRange(string param, string what, string code) =>
        ApiError.BadRequest($"Invalid '{param}': {what}", param, code);

    public static ApiError Missing(string param) =>
        ApiError.BadRequest($"Missing required parameter: '{param}'.", param, "missing_required_parameter");

    public static ApiError Unsupported(string param, string why) =>
        ApiError.BadRequest($"'{param}' is not supported by this server: {why}", param, "unsupported_parameter");

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
}
