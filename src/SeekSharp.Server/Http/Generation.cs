using SeekSharp.Inference;
using SeekSharp.Server.Scheduling;

namespace SeekSharp.Server.Http;

/// <summary>What both generating endpoints share: submitting a job (429 past the queue), and the usage and finish_reason they report.</summary>
internal static class Generation
{
    public const string Fingerprint = "seeksharp";

    public static GenerationJob Submit(BatchScheduler scheduler, int[] prompt, JobParameters parameters)
    {
        var job = new GenerationJob(prompt, parameters);
        return scheduler.Submit(job) switch
        {
            SubmitResult.Accepted => job,
            SubmitResult.QueueFull => throw new ApiError(429,
                $"The server is busy: all {scheduler.Slots} slots are generating and the queue is full. Retry shortly.", "rate_limit_error", code: "queue_full")
            { RetryAfterSeconds = 1 },
            _ => throw ShuttingDown(),
        };
    }

    public static ApiError ShuttingDown() => new(503, "The server is shutting down.", "server_error", code: "shutting_down") { RetryAfterSeconds = 5 };

    /// <summary>A request past <see cref="ServerOptions.RequestTimeout"/>: 504, as a gateway answers a reply that took too long.</summary>
    public static ApiError TimedOut(TimeSpan timeout) => new(504,
        $"The request did not finish within the server's request timeout ({timeout.TotalSeconds:0.###} s); generation was stopped. Ask for fewer tokens (max_tokens) or retry when the server is less busy.",
        "timeout_error", code: "request_timeout");

    public static ApiError Internal(string message) => new(500, $"The server failed while generating: {message}", "server_error", code: "internal_error");

    public static string FinishReasonName(FinishReason reason) =>
        reason is FinishReason.EndOfSequence or FinishReason.StopString ? "stop" : "length";

    public static object Usage(UsageCounts u) => new
    {
        prompt_tokens = u.PromptTokens,
        completion_tokens = u.CompletionTokens,
        total_tokens = u.TotalTokens,
        prompt_tokens_details = new { cached_tokens = u.CachedTokens },
        completion_tokens_details = new { reasoning_tokens = 0 },
    };

    /// <summary>A mid-stream error event, as OpenAI sends one.</summary>
    public static object StreamError(ApiError e) => e.Body;
}
