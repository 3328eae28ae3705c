namespace SeekSharp.Server.Scheduling;

/// <summary>Whether the scheduler took a request.</summary>
public enum SubmitResult
{
    Accepted,
    /// <summary>Every slot is busy and the queue is at its limit: answer 429.</summary>
    QueueFull,
    /// <summary>The server is stopping: answer 503.</summary>
    ShuttingDown,
}
