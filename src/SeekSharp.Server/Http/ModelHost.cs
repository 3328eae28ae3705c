using SeekSharp.Server.Metrics;
using SeekSharp.Server.Scheduling;

namespace SeekSharp.Server.Http;

/// <summary>
/// What the endpoints serve from: nothing while the model loads (503 with Retry-After), then the model and its
/// scheduler. Set once, read by every request.
/// </summary>
internal sealed class ModelHost(ServerOptions options, ServerMetrics metrics)
{
    private volatile Loaded? _loaded;
    private volatile bool _stopping;

    private sealed record Loaded(ServedModel Model, BatchScheduler Scheduler);

    public ServerOptions Options { get; } = options;
    public ServerMetrics Metrics { get; } = metrics;
    public bool IsReady => _loaded is not null && !_stopping;
    public ServedModel? Model => _loaded?.Model;
    public BatchScheduler? Scheduler => _loaded?.Scheduler;

    public void SetLoaded(ServedModel model, BatchScheduler scheduler) => _loaded = new Loaded(model, scheduler);

    public void MarkStopping() => _stopping = true;

    /// <summary>The model and scheduler, or a 503 while loading or stopping.</summary>
    public (ServedModel Model, BatchScheduler Scheduler) Require()
    {
        if (_stopping)
        {
            Metrics.Rejected("shutting_down");
            throw Generation.ShuttingDown();
        }
        var loaded = _loaded;
        if (loaded is null)
        {
            Metrics.Rejected("loading");
            throw new ApiError(503, "The model is still loading; retry shortly.", "server_error", code: "model_loading") { RetryAfterSeconds = 2 };
        }
        return (loaded.Model, loaded.Scheduler);
    }
}
