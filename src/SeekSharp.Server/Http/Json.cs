using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>How the server writes JSON: property names as given (OpenAI's snake_case), nulls kept, non-ASCII text as is.</summary>
internal static class Json
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = null,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize(object value) => JsonSerializer.Serialize(value, Options);

    public static async Task WriteAsync(HttpContext http, int status, object body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(Serialize(body), http.RequestAborted);
    }

    public static Task WriteErrorAsync(HttpContext http, ApiError error)
    {
        if (error.RetryAfterSeconds is { } s) http.Response.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WriteAsync(http, error.Status, error.Body);
    }

    /// <summary>An id like OpenAI's: the prefix and 24 random letters and digits.</summary>
    public static string NewId(string prefix)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        Span<char> chars = stackalloc char[24];
        for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        return prefix + new string(chars);
    }

    public static long UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}
