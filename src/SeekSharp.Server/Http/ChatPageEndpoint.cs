using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>
/// The web chat page: GET / (index.html), /chat.css and /chat.js, plain files embedded in this assembly (Page/*). They
/// need no API key (the page asks for it and sends it to the API endpoints, which still require it). Each file is
/// served with its content type, an ETag, and no-cache, so an updated server is picked up at once.
/// </summary>
internal static class ChatPageEndpoint
{
    private sealed record PageFile(byte[] Bytes, string ContentType, string ETag);

    private static readonly FrozenDictionary<string, PageFile> Files = new Dictionary<string, PageFile>
    {
        ["/"] = Load("index.html", "text/html; charset=utf-8"),
        ["/chat.css"] = Load("chat.css", "text/css; charset=utf-8"),
        ["/chat.js"] = Load("chat.js", "text/javascript; charset=utf-8"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The paths the page is served at.</summary>
    public static IEnumerable<string> Paths => Files.Keys;

    /// <summary>Whether a request is for one of the page's files (these need no API key).</summary>
    public static bool IsPage(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && Files.ContainsKey(request.Path.Value ?? "");

    public static Task HandleAsync(HttpContext http)
    {
        var file = Files[http.Request.Path.Value ?? "/"];
        var response = http.Response;
        response.Headers.ETag = file.ETag;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Content-Type-Options"] = "nosniff";
        if (http.Request.Headers.IfNoneMatch.ToString() == file.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        response.StatusCode = 200;
        response.ContentType = file.ContentType;
        response.ContentLength = file.Bytes.Length;
        return HttpMethods.IsHead(http.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(file.Bytes, http.RequestAborted).AsTask();
    }

    private static PageFile Load(string name, string contentType)
    {
        var assembly = typeof(ChatPageEndpoint).Assembly;
        using var stream = assembly.GetManifestResourceStream("SeekSharp.Server.Page." + name)
            ?? throw new InvalidOperationException($"The chat page's {name} is not embedded in {assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        string etag = "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16] + "\"";
        return new PageFile(bytes, contentType, etag);
    }
}
