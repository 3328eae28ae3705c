using System.Diagnostics;
using System.Threading.Channels;

namespace SeekSharp.Server.Scheduling;

/// <summary>
/// One request handed to the <see cref="BatchScheduler"/>: the prompt's token ids and how to answer it. The scheduler
/// writes <see cref="Events"/> (deltas, then one <see cref="Finished"/> or <see cref="Failed"/>); the request reads
/// them. <see cref="Cancel"/> (the client left) frees its slot at the next step.
/// </summary>
public sealed class GenerationJob
{
    private readonly Channel<GenerationEvent> _events =
        Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _cancel = new();

    public GenerationJob(int[] prompt, JobParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(parameters);
        if (prompt.Length == 0) throw new InvalidInputException("The prompt is empty.");
        if (parameters.MaxTokens < 1) throw new InvalidInputException($"The token limit must be positive, got {parameters.MaxTokens}.");
        Prompt = prompt;
        Parameters = parameters;
    }

    public int[] Prompt { get; }
    public JobParameters Parameters { get; }
    public ChannelReader<GenerationEvent> Events => _events.Reader;
    internal ChannelWriter<GenerationEvent> Writer => _events.Writer;

    /// <summary>Signalled by <see cref="Cancel"/>.</summary>
    public CancellationToken CancellationToken => _cancel.Token;

    public bool IsCancelled => _cancel.IsCancellationRequested;

    /// <summary>When the scheduler took it (Stopwatch ticks), for queue-time metrics.</summary>
    internal long SubmittedAt { get; set; } = Stopwatch.GetTimestamp();

    /// <summary>Stops generating for this request: its slot is freed at the next step and it ends with <see cref="Inference.FinishReason.Cancelled"/>.</summary>
    public void Cancel()
    {
        try { _cancel.Cancel(); }
        catch (ObjectDisposedException) { }
    }
}
