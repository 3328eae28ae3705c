using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>GET /metrics: the server's counters and gauges in Prometheus' text format.</summary>
internal static class MetricsEndpoint
{
    public static Task HandleAsync(HttpContext http, ModelHost host)
    {
        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        return http.Response.WriteAsync(host.Metrics.ToPrometheus(host.IsReady), http.RequestAborted);
    }
}
