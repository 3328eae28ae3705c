using System.Diagnostics;

namespace SeekSharp.Server.Metrics;

/// <summary>
/// Events per second over the last <see cref="Seconds"/> seconds, kept in one-second buckets; the current, partial
/// second counts for the time it has run. Not thread-safe (<see cref="ServerMetrics"/> locks around it).
/// </summary>
internal sealed class RateWindow
{
    public const int Seconds = 10;

    private readonly long[] _counts = new long[Seconds];
    private readonly long[] _bucketSecond = new long[Seconds];
    private readonly long _start = Stopwatch.GetTimestamp();

    public void Add(long count, long timestamp)
    {
        long second = SecondOf(timestamp);
        int i = (int)(second % Seconds);
        if (_bucketSecond[i] != second) { _bucketSecond[i] = second; _counts[i] = 0; }
        _counts[i] += count;
    }

    public double PerSecond(long now)
    {
        double elapsed = Stopwatch.GetElapsedTime(_start, now).TotalSeconds;
        if (elapsed <= 0) return 0;
        long second = SecondOf(now);
        long total = 0;
        for (int i = 0; i < Seconds; i++)
            if (_bucketSecond[i] > second - Seconds && _bucketSecond[i] <= second) total += _counts[i];
        // The window covers the last Seconds − 1 whole seconds and the current one so far (less while the server is young).
        double span = Math.Min(elapsed, Seconds - 1 + (elapsed - Math.Floor(elapsed)));
        return span > 0 ? total / span : 0;
    }

    private long SecondOf(long timestamp) => (long)Stopwatch.GetElapsedTime(_start, timestamp).TotalSeconds + 1;
}
