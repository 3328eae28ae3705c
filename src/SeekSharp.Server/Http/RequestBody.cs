using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>Reads a request's JSON body within the size limit: 413 past it, 400 when it is not a JSON object.</summary>
internal static class RequestBody
{
    public static async Task<JsonDocument> ReadObjectAsync(HttpContext http, long limit)
    {
        if (http.Request.ContentLength > limit) throw TooLarge(limit);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                // Read the rest (Kestrel's backstop limit ends a flood) so the connection stays usable for the answer.
                while (await http.Request.Body.ReadAsync(chunk, http.RequestAborted) > 0) { }
                throw TooLarge(limit);
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) throw ApiError.BadRequest("The request has no body; send a JSON object.", code: "invalid_json");
        // JsonDocument checks UTF-8 only when a string is read, and then throws InvalidOperationException (a 500).
        if (!Utf8.IsValid(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)))
            throw ApiError.BadRequest("We could not parse the JSON body of your request: it is not valid UTF-8.", code: "invalid_json");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"We could not parse the JSON body of your request: {e.Message}", code: "invalid_json");
        }
        var kind = doc.RootElement.ValueKind;
        if (kind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiError.BadRequest($"The request body must be a JSON object, not {JsonFields.Describe(kind)}.", code: "invalid_json");
        }
        try
        {
            CheckStrings(doc.RootElement);
        }
        catch (InvalidOperationException e)
        {
            doc.Dispose();
            throw ApiError.BadRequest($"We could not parse the JSON body of your request: a string escapes a lone surrogate such as \\ud800, which is not text ({e.Message})", code: "invalid_json");
        }
        return doc;
    }

    // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws InvalidOperationException when
    // such a string is read, so every name and string is read once here. Depth is at most MaxDepth (64).
    private static void CheckStrings(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                _ = element.GetString();
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray()) CheckStrings(item);
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    CheckStrings(property.Value);
                }
                break;
        }
    }

    public static ApiError TooLarge(long limit) =>
        new(413, $"The request body is larger than this server accepts ({limit} bytes).", code: "request_too_large");
}
