using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SeekSharp.Server.Http;

/// <summary>A text/event-stream response as OpenAI sends it: "data: JSON" events, each flushed at once, ending with "data: [DONE]".</summary>
internal sealed class ServerSentEvents(HttpContext http)
{
    public async Task StartAsync()
    {
        var response = http.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(http.RequestAborted);
    }

    public Task DataAsync(object payload) => WriteAsync(Json.Serialize(payload));

    public Task DoneAsync() => WriteAsync("[DONE]");

    private async Task WriteAsync(string data)
    {
        await http.Response.WriteAsync("data: " + data + "\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }
}
