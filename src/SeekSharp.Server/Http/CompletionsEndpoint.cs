using System.Text;
using Microsoft.AspNetCore.Http;
using SeekSharp.Inference;
using SeekSharp.Server.Scheduling;

namespace SeekSharp.Server.Http;

/// <summary>POST /v1/completions (OpenAI's legacy text completions): the prompt continued, as one text_completion or streamed.</summary>
internal static class CompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext http, ModelHost host)
    {
        using var deadline = new RequestDeadline(host.Options.RequestTimeout);
        using var body = await RequestBody.ReadObjectAsync(http, host.Options.MaxRequestBytes);
        var (model, scheduler) = host.Require();
        var request = CompletionRequest.Parse(body.RootElement, model);
        var parameters = request.Generation.ToJob(request.Prompt.Length, model, request.Logprobs, "prompt");
        var job = Generation.Submit(scheduler, request.Prompt, parameters);
        using var leave = http.RequestAborted.Register(job.Cancel);
        deadline.Watch(job);
        try
        {
            await RespondAsync(http, job, request, model, deadline);
        }
        finally
        {
            job.Cancel();   // however the response ended (a failed write, say), the slot is freed; no-op once finished
        }
    }

    private static async Task RespondAsync(HttpContext http, GenerationJob job, CompletionRequest request, ServedModel model, RequestDeadline deadline)
    {
        string id = Json.NewId("cmpl-");
        long created = Json.UnixNow();
        bool logprobs = request.Logprobs is not null;
        int offset = 0;

        if (!request.Generation.Stream)
        {
            var text = new StringBuilder();
            var tokens = new List<TokenLogprob>();
            await foreach (var e in job.Events.ReadAllAsync(http.RequestAborted))
            {
                switch (e)
                {
                    case TextDelta d:
                        text.Append(d.Text);
                        tokens.AddRange(d.Logprobs);
                        break;
                    case Finished { Reason: FinishReason.Cancelled }:
                        throw deadline.CancelledError();
                    case Finished f:
                        await Json.WriteAsync(http, 200, new
                        {
                            id,
                            @object = "text_completion",
                            created,
                            model = model.Id,
                            choices = new[] { Choice(text.ToString(), logprobs ? LogprobsJson.Legacy(tokens, ref offset) : null, Generation.FinishReasonName(f.Reason)) },
                            usage = Generation.Usage(f.Usage),
                            system_fingerprint = Generation.Fingerprint,
                        });
                        return;
                    case Failed x:
                        throw Generation.Internal(x.Message);
                }
            }
            return;
        }

        var sse = new ServerSentEvents(http);
        await sse.StartAsync();
        bool includeUsage = request.Generation.IncludeUsage;
        await foreach (var e in job.Events.ReadAllAsync(http.RequestAborted))
        {
            switch (e)
            {
                case TextDelta d:
                    await sse.DataAsync(Chunk(id, created, model.Id, includeUsage, Choice(d.Text, logprobs && d.Logprobs.Count > 0 ? LogprobsJson.Legacy(d.Logprobs, ref offset) : null, null)));
                    break;
                case Finished { Reason: FinishReason.Cancelled }:
                    await sse.DataAsync(Generation.StreamError(deadline.CancelledError()));
                    await sse.DoneAsync();
                    return;
                case Finished f:
                    await sse.DataAsync(Chunk(id, created, model.Id, includeUsage, Choice("", null, Generation.FinishReasonName(f.Reason))));
                    if (includeUsage) await sse.DataAsync(Chunk(id, created, model.Id, includeUsage, null, Generation.Usage(f.Usage)));
                    await sse.DoneAsync();
                    return;
                case Failed x:
                    await sse.DataAsync(Generation.StreamError(Generation.Internal(x.Message)));
                    await sse.DoneAsync();
                    return;
            }
        }
    }

    private static object Choice(string text, object? logprobs, string? finishReason) =>
        new { text, index = 0, logprobs, finish_reason = finishReason };

    private static Dictionary<string, object?> Chunk(string id, long created, string model, bool includeUsage, object? choice, object? usage = null)
    {
        var chunk = new Dictionary<string, object?>
        {
            ["id"] = id,
            ["object"] = "text_completion",
            ["created"] = created,
            ["model"] = model,
            ["system_fingerprint"] = Generation.Fingerprint,
            ["choices"] = choice is null ? Array.Empty<object>() : new[] { choice },
        };
        if (includeUsage) chunk["usage"] = usage;
        return chunk;
    }
}
