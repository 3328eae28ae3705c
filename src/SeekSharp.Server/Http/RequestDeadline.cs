using SeekSharp.Server.Scheduling;

namespace SeekSharp.Server.Http;

/// <summary>
/// A generating request's deadline (<see cref="ServerOptions.RequestTimeout"/>), counted from its arrival: when it
/// passes, the request's job is cancelled (its slot freed at the next step, or its place in the queue given up), and the
/// endpoint answers <see cref="Generation.TimedOut"/> instead of a shutdown error. Without a timeout it does nothing.
/// </summary>
internal sealed class RequestDeadline(TimeSpan? timeout) : IDisposable
{
    private readonly CancellationTokenSource? _timer = timeout is { } t ? new CancellationTokenSource(t) : null;
    private CancellationTokenRegistration _cancel;

    public TimeSpan? Timeout { get; } = timeout;

    /// <summary>Whether the deadline has passed.</summary>
    public bool Expired => _timer?.IsCancellationRequested == true;

    /// <summary>Cancels <paramref name="job"/> when the deadline passes (at once when it already has).</summary>
    public void Watch(GenerationJob job)
    {
        if (_timer is not null) _cancel = _timer.Token.Register(job.Cancel);
    }

    /// <summary>The error for a job that ended cancelled: the timeout when it was the deadline, else the shutdown.</summary>
    public ApiError CancelledError() => Expired ? Generation.TimedOut(Timeout!.Value) : Generation.ShuttingDown();

    public void Dispose()
    {
        _cancel.Dispose();
        _timer?.Dispose();
    }
}
