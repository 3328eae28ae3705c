using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>GET /health: 503 {"status": "loading"} until the model is loaded, then 200 {"status": "ok"}; no API key needed.</summary>
internal static class HealthEndpoint
{
    public static Task HandleAsync(HttpContext http, ModelHost host) =>
        host.IsReady ? Json.WriteAsync(http, 200, new { status = "ok" })
        : Json.WriteAsync(http, 503, new { status = host.Model is null ? "loading" : "stopping" });
}
