using SeekSharp.Inference;

namespace SeekSharp.Server.Scheduling;

/// <summary>What the scheduler tells a request as its reply is generated: deltas, then exactly one end.</summary>
public abstract record GenerationEvent;

/// <summary>
/// Text that can be shown now (possibly empty: bytes of an unfinished character, or text that may still turn into a
/// stop string, are held back) and the log-probabilities of the tokens generated in this step, when asked for.
/// </summary>
public sealed record TextDelta(string Text, IReadOnlyList<TokenLogprob> Logprobs) : GenerationEvent;

/// <summary>The reply ended: why, and the token counts. <see cref="FinishReason.Cancelled"/> when the client left or the server is stopping.</summary>
public sealed record Finished(FinishReason Reason, UsageCounts Usage) : GenerationEvent;

/// <summary>The reply failed inside the server (not the request's fault).</summary>
public sealed record Failed(string Message) : GenerationEvent;

/// <summary>Token counts of one request.</summary>
public readonly record struct UsageCounts(int PromptTokens, int CachedTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}
