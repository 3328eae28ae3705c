using System.Diagnostics;
using System.Globalization;
using System.Text;
using SeekSharp.Inference;

namespace SeekSharp.Server.Metrics;

/// <summary>
/// The server's counters and gauges, written in Prometheus' text format by GET /metrics. The scheduler thread records
/// steps, tokens, the prompt cache and expert routing; request threads record rejections. Thread-safe (one lock; a
/// record is a few additions).
/// </summary>
public sealed class ServerMetrics
{
    private readonly object _lock = new();
    private readonly Dictionary<string, long> _finished = new() { ["stop"] = 0, ["length"] = 0, ["cancelled"] = 0, ["error"] = 0 };
    private readonly Dictionary<string, long> _rejected = new() { ["queue_full"] = 0, ["shutting_down"] = 0, ["loading"] = 0 };
    private readonly RateWindow _promptRate = new(), _generationRate = new();
    private long _promptTokens, _cachedTokens, _prefilledTokens, _generatedTokens;
    private long _cacheLookups, _cacheHits;
    private long _steps, _stepSequences, _stepRows;
    private double _stepSeconds, _firstTokenSeconds, _queueSeconds;
    private long _firstTokens, _admitted;
    private long _drafted, _accepted;
    private long[]?[] _expertLoad = [];
    private Func<SchedulerGauges>? _gauges;

    /// <summary>Gauges read from the scheduler at scrape time.</summary>
    public readonly record struct SchedulerGauges(int Waiting, int Busy, int Slots, long CacheBytes, int CacheEntries, long CacheBudget);

    internal void Attach(Func<SchedulerGauges> gauges, int layers)
    {
        lock (_lock)
        {
            _gauges = gauges;
            _expertLoad = new long[]?[layers];
        }
    }

    internal void Rejected(string reason)
    {
        lock (_lock) _rejected[reason] = _rejected.GetValueOrDefault(reason) + 1;
    }

    internal void Admitted(int promptTokens, int cachedTokens, bool lookedUp, double queueSeconds)
    {
        lock (_lock)
        {
            _promptTokens += promptTokens;
            _cachedTokens += cachedTokens;
            _admitted++;
            _queueSeconds += queueSeconds;
            if (lookedUp) _cacheLookups++;
            if (cachedTokens > 0) _cacheHits++;
        }
    }

    internal void FirstToken(double secondsSinceSubmit)
    {
        lock (_lock)
        {
            _firstTokens++;
            _firstTokenSeconds += secondsSinceSubmit;
        }
    }

    /// <summary>One forward: how many sequences and rows, how many were prompt and how many generated tokens.</summary>
    internal void Step(int sequences, int rows, int prefilled, int generated, double seconds, long timestamp)
    {
        lock (_lock)
        {
            _steps++;
            _stepSequences += sequences;
            _stepRows += rows;
            _stepSeconds += seconds;
            _prefilledTokens += prefilled;
            _generatedTokens += generated;
            _promptRate.Add(prefilled, timestamp);
            _generationRate.Add(generated, timestamp);
        }
    }

    /// <summary>Adds a step's tokens per routed expert for MoE layer <paramref name="layer"/>.</summary>
    internal void ExpertLoad(int layer, ReadOnlySpan<int> counts)
    {
        lock (_lock)
        {
            var load = _expertLoad[layer] ??= new long[counts.Length];
            for (int e = 0; e < counts.Length && e < load.Length; e++) load[e] += counts[e];
        }
    }

    internal void Speculation(int drafted, int accepted)
    {
        lock (_lock)
        {
            _drafted += drafted;
            _accepted += accepted;
        }
    }

    internal void Finished(FinishReason reason)
    {
        string key = reason switch
        {
            FinishReason.EndOfSequence or FinishReason.StopString => "stop",
            FinishReason.Length or FinishReason.ContextFull => "length",
            _ => "cancelled",
        };
        lock (_lock) _finished[key]++;
    }

    internal void Failed()
    {
        lock (_lock) _finished["error"]++;
    }

    /// <summary>Everything, in Prometheus' text exposition format (version 0.0.4).</summary>
    public string ToPrometheus(bool modelLoaded)
    {
        var w = new PrometheusWriter();
        long now = Stopwatch.GetTimestamp();
        Func<SchedulerGauges>? gauges;
        lock (_lock) gauges = _gauges;
        var g = gauges?.Invoke() ?? default;     // outside the lock: the scheduler takes its own lock, then records here
        lock (_lock)
        {
            w.Metric("seeksharp_model_loaded", "gauge", "1 once the model is loaded and requests are served.", modelLoaded ? 1 : 0);
            w.Header("seeksharp_requests_total", "counter", "Requests finished, by finish reason (stop, length, cancelled, error).");
            foreach (var (k, v) in _finished) w.Sample("seeksharp_requests_total", v, ("finish_reason", k));
            w.Header("seeksharp_requests_rejected_total", "counter", "Requests turned away before generating: queue full (429), shutting down or loading (503).");
            foreach (var (k, v) in _rejected) w.Sample("seeksharp_requests_rejected_total", v, ("reason", k));
            w.Metric("seeksharp_prompt_tokens_total", "counter", "Prompt tokens of admitted requests, cached ones included.", _promptTokens);
            w.Metric("seeksharp_prompt_tokens_cached_total", "counter", "Prompt tokens taken from the prompt cache instead of being prefilled.", _cachedTokens);
            w.Metric("seeksharp_prompt_tokens_prefilled_total", "counter", "Prompt tokens run through the model.", _prefilledTokens);
            w.Metric("seeksharp_generation_tokens_total", "counter", "Tokens generated (end-of-sequence tokens not counted).", _generatedTokens);
            w.Metric("seeksharp_prompt_tokens_per_second", "gauge", $"Prompt tokens prefilled per second over the last {RateWindow.Seconds} s.", _promptRate.PerSecond(now));
            w.Metric("seeksharp_generation_tokens_per_second", "gauge", $"Tokens generated per second over the last {RateWindow.Seconds} s, all sequences together.", _generationRate.PerSecond(now));
            w.Metric("seeksharp_queue_depth", "gauge", "Requests waiting for a slot.", g.Waiting);
            w.Metric("seeksharp_slots_busy", "gauge", "Slots generating or prefilling.", g.Busy);
            w.Metric("seeksharp_slots", "gauge", "Slots (--parallel): sequences decoded together in one forward.", g.Slots);
            w.Metric("seeksharp_engine_steps_total", "counter", "Forward passes of the batch.", _steps);
            w.Metric("seeksharp_engine_step_sequences_total", "counter", "Sequences over all forward passes (divide by steps for the mean batch).", _stepSequences);
            w.Metric("seeksharp_engine_step_rows_total", "counter", "Token rows over all forward passes.", _stepRows);
            w.Metric("seeksharp_engine_step_seconds_total", "counter", "Time spent in forward passes.", _stepSeconds);
            w.Metric("seeksharp_time_to_first_token_seconds_sum", "counter", "Sum over requests of the time from submission to the first generated token.", _firstTokenSeconds);
            w.Metric("seeksharp_time_to_first_token_seconds_count", "counter", "Requests that got a first token.", _firstTokens);
            w.Metric("seeksharp_queue_seconds_sum", "counter", "Sum over admitted requests of the time waited for a slot.", _queueSeconds);
            w.Metric("seeksharp_queue_seconds_count", "counter", "Admitted requests.", _admitted);
            w.Metric("seeksharp_prompt_cache_lookups_total", "counter", "Admitted requests looked up in the prompt cache.", _cacheLookups);
            w.Metric("seeksharp_prompt_cache_hits_total", "counter", "Lookups that reused a cached prefix.", _cacheHits);
            w.Metric("seeksharp_prompt_cache_hit_ratio", "gauge", "Hits / lookups.", _cacheLookups > 0 ? (double)_cacheHits / _cacheLookups : 0);
            w.Metric("seeksharp_prompt_cache_token_ratio", "gauge", "Cached prompt tokens / prompt tokens.", _promptTokens > 0 ? (double)_cachedTokens / _promptTokens : 0);
            w.Metric("seeksharp_prompt_cache_bytes", "gauge", "Bytes of latent cache held by the prompt cache.", g.CacheBytes);
            w.Metric("seeksharp_prompt_cache_budget_bytes", "gauge", "The prompt cache's byte budget.", g.CacheBudget);
            w.Metric("seeksharp_prompt_cache_entries", "gauge", "Sequences held by the prompt cache.", g.CacheEntries);
            w.Metric("seeksharp_mtp_drafted_total", "counter", "MTP draft tokens verified (0: serve does not speculate yet).", _drafted);
            w.Metric("seeksharp_mtp_accepted_total", "counter", "MTP draft tokens the main model accepted.", _accepted);
            w.Metric("seeksharp_mtp_acceptance_ratio", "gauge", "Accepted / drafted (0 when nothing was drafted).", _drafted > 0 ? (double)_accepted / _drafted : 0);
            w.Header("seeksharp_expert_tokens_total", "counter", "Tokens routed to each routed expert, per MoE layer (prompt and generated tokens).");
            for (int l = 0; l < _expertLoad.Length; l++)
                if (_expertLoad[l] is { } load)
                    for (int e = 0; e < load.Length; e++)
                        w.Sample("seeksharp_expert_tokens_total", load[e], ("layer", l.ToString(CultureInfo.InvariantCulture)), ("expert", e.ToString(CultureInfo.InvariantCulture)));
            w.Header("seeksharp_expert_load_max_over_mean", "gauge", "Per MoE layer: the busiest expert's tokens over the mean (1 = perfectly balanced).");
            for (int l = 0; l < _expertLoad.Length; l++)
                if (_expertLoad[l] is { } load)
                {
                    double mean = load.Average();
                    w.Sample("seeksharp_expert_load_max_over_mean", mean > 0 ? load.Max() / mean : 0, ("layer", l.ToString(CultureInfo.InvariantCulture)));
                }
        }
        return w.ToString();
    }

    /// <summary>Prometheus text format: # HELP and # TYPE once per metric, then its samples.</summary>
    private sealed class PrometheusWriter
    {
        private readonly StringBuilder _sb = new();

        public void Header(string name, string type, string help)
        {
            _sb.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
            _sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        }

        public void Metric(string name, string type, string help, double value)
        {
            Header(name, type, help);
            Sample(name, value);
        }

        public void Sample(string name, double value, params (string Key, string Value)[] labels)
        {
            _sb.Append(name);
            if (labels.Length > 0)
            {
                _sb.Append('{');
                for (int i = 0; i < labels.Length; i++)
                {
                    if (i > 0) _sb.Append(',');
                    _sb.Append(labels[i].Key).Append("=\"").Append(labels[i].Value.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append('"');
                }
                _sb.Append('}');
            }
            _sb.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }

        public override string ToString() => _sb.ToString();
    }
}
