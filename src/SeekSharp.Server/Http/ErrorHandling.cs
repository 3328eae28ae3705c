using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>
/// The outermost middleware: every failure becomes an error in OpenAI's shape with its status, never a 500 for bad
/// input and never a crash. <see cref="ApiError"/> carries its own status; the library's own exceptions raised while
/// reading a request are that request's fault (400); Kestrel's body limit is a 413; a client that left gets nothing;
/// anything else is logged and answered 500. Empty error responses (unknown URL, wrong method) get a body too.
/// </summary>
internal static class ErrorHandling
{
    public static async Task InvokeAsync(HttpContext http, Func<Task> next, long bodyLimit, TextWriter log)
    {
        try
        {
            await next();
            var r = http.Response;
            if (!r.HasStarted && r.StatusCode >= 400 && r.ContentType is null)
                await Json.WriteErrorAsync(http, ForStatus(http, r.StatusCode));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && (http.RequestAborted.IsCancellationRequested || http.Response.HasStarted))
        {
            // The client left (a reset connection mid-stream included); there is no one to answer.
        }
        catch (Exception e)
        {
            var error = e switch
            {
                ApiError a => a,
                BadHttpRequestException { StatusCode: 413 } => RequestBody.TooLarge(bodyLimit),
                BadHttpRequestException b => new ApiError(b.StatusCode, $"Bad request: {b.Message}", code: "bad_request"),
                SeekSharpException s => ApiError.BadRequest(s.Message),
                _ => null,
            };
            if (error is null)
            {
                lock (log) log.WriteLine($"error: {http.Request.Method} {http.Request.Path}: {e.GetType().Name}: {e.Message}");
                error = new ApiError(500, "The server had an error while processing your request.", "server_error", code: "internal_error");
            }
            if (!http.Response.HasStarted)
            {
                http.Response.Clear();
                await Json.WriteErrorAsync(http, error);
            }
        }
    }

    private static ApiError ForStatus(HttpContext http, int status) => status switch
    {
        404 => new ApiError(404, $"Unknown request URL: {http.Request.Method} {http.Request.Path}.", code: "unknown_url"),
        405 => new ApiError(405, $"Method {http.Request.Method} is not allowed for {http.Request.Path}.", code: "method_not_allowed"),
        _ => new ApiError(status, $"The request failed with status {status}.", status >= 500 ? "server_error" : "invalid_request_error"),
    };
}
