using System.Text.Json;
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
        return doc;
    }

    public static ApiError TooLarge(long limit) =>
        new(413, $"The request body is larger than this server accepts ({limit} bytes).", code: "request_too_large");
}
