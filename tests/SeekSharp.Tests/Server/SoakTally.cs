using System.Globalization;
using System.Text;

namespace SeekSharp.Tests.Server;

/// <summary>
/// A soak's counts in fixed memory: per kind, requests by outcome and a latency histogram (buckets 2 % wide from
/// 0.01 ms to 100 s, so percentiles are within 2 %), the first problems, and memory samples. Nothing grows with the
/// number of requests, so the soak's memory figures are the server's.
/// </summary>
internal sealed class SoakTally
{
    private const double Smallest = 0.01, Ratio = 1.02;
    private static readonly int Buckets = (int)Math.Ceiling(Math.Log(1e5 / Smallest) / Math.Log(Ratio)) + 1;
    private const int ProblemsKept = 50;

    private sealed class KindTally
    {
        public readonly int[] Histogram = new int[Buckets];
        public int Expected, Disconnected, Unexpected;
        public int Count => Expected + Disconnected + Unexpected;
    }

    private readonly object _lock = new();
    private readonly Dictionary<string, KindTally> _kinds = SoakDriver.Mix.ToDictionary(m => m.Kind, _ => new KindTally());
    private readonly List<string> _problems = new(ProblemsKept);
    private readonly List<(TimeSpan At, long Managed, long Resident)> _samples = new(64);

    public int Requests { get; private set; }
    public int Unexpected { get; private set; }
    public IReadOnlyList<string> Problems => _problems;
    public IReadOnlyList<(TimeSpan At, long Managed, long Resident)> Samples => _samples;

    public int CountOf(string kind)
    {
        lock (_lock) return _kinds[kind].Count;
    }

    public void Add(SoakDriver.Outcome outcome)
    {
        int bucket = Math.Clamp((int)Math.Ceiling(Math.Log(Math.Max(outcome.Milliseconds, Smallest) / Smallest) / Math.Log(Ratio)), 0, Buckets - 1);
        lock (_lock)
        {
            var k = _kinds[outcome.Kind];
            k.Histogram[bucket]++;
            Requests++;
            if (outcome.Problem is not null)
            {
                k.Unexpected++;
                Unexpected++;
                if (_problems.Count < ProblemsKept) _problems.Add($"{outcome.Kind}: {outcome.Problem}");
            }
            else if (outcome.Result == "disconnected") k.Disconnected++;
            else k.Expected++;
        }
    }

    public void Sample(TimeSpan at, (long Managed, long Resident) memory)
    {
        lock (_lock) if (_samples.Count < _samples.Capacity) _samples.Add((at, memory.Managed, memory.Resident));
    }

    /// <summary>The table: per kind, requests, outcomes and latency p50/p90/p99 in milliseconds.</summary>
    public string Table()
    {
        var s = new StringBuilder();
        s.AppendLine("kind                   requests  outcome                         p50 ms   p90 ms   p99 ms");
        lock (_lock)
        {
            foreach (var (kind, k) in _kinds)
            {
                string outcome = string.Join(", ", new[] { ("expected", k.Expected), ("disconnected", k.Disconnected), ("unexpected", k.Unexpected) }.Where(p => p.Item2 > 0).Select(p => $"{p.Item1} {p.Item2}"));
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"{kind,-22} {k.Count,8}  {outcome,-29} {Percentile(k, 0.5),8:F1} {Percentile(k, 0.9),8:F1} {Percentile(k, 0.99),8:F1}");
            }
            if (_samples.Count > 0)
                s.AppendLine("memory during the soak (after a full GC): " + string.Join(", ", _samples.Select(m =>
                    string.Create(CultureInfo.InvariantCulture, $"{m.At.TotalSeconds:F0} s {m.Managed / 1048576.0:F1}/{m.Resident / 1048576.0:F0} MiB"))));
        }
        return s.ToString().TrimEnd();
    }

    // The upper edge of the bucket holding the p-th fraction of the kind's requests.
    private static double Percentile(KindTally k, double p)
    {
        int count = k.Count, seen = 0, rank = Math.Max(1, (int)Math.Ceiling(p * count));
        if (count == 0) return double.NaN;
        for (int b = 0; b < Buckets; b++)
            if ((seen += k.Histogram[b]) >= rank) return Smallest * Math.Pow(Ratio, b);
        return double.NaN;
    }
}
