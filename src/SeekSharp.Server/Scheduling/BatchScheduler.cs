using System.Diagnostics;
using System.Runtime.InteropServices;
using SeekSharp.Inference;
using SeekSharp.Server.Metrics;

namespace SeekSharp.Server.Scheduling;

/// <summary>
/// Continuous batching over one <see cref="DecodeEngine"/>, driven by one thread (the engine is not thread-safe).
/// Requests arrive through <see cref="Submit"/> from any thread and wait in a queue; each step the scheduler admits
/// waiting requests into free slots (up to <c>parallel</c>), then runs ONE forward over every active sequence: one
/// token for each sequence that is decoding, and a chunk of the prompt for each one being prefilled (all prompts
/// together at most <c>prefillChunk</c> tokens per step, so decodes are never stalled for long). A new request joins
/// at the next step; a cancelled one leaves at the next step. A new prompt that shares a prefix with a finished
/// request's sequence (<see cref="PromptCache"/>) starts from a fork of it.
/// </summary>
public sealed class BatchScheduler : IDisposable
{
    private readonly ServedModel _model;
    private readonly DecodeEngine _engine;
    private readonly ServerMetrics _metrics;
    private readonly PromptCache _cache;
    private readonly Action<string> _log;
    private readonly int _parallel, _queueLimit, _prefillChunk, _vocab;
    private readonly object _gate = new();
    private readonly Queue<GenerationJob> _incoming = new();      // under _gate
    private readonly List<GenerationJob> _waiting = new();        // scheduler thread only
    private readonly List<Slot> _active = new();                  // scheduler thread only
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private readonly DecodeInput[] _inputs;
    private readonly DraftInput[] _drafts;
    private readonly bool _speculative;
    private readonly Slot[] _stepSlots;
    private int _pending;                 // submitted and not finished; under _gate
    private bool _accepting = true;       // under _gate
    private volatile bool _stop, _cancelAll;
    private volatile int _stepsLeft = -1;  // tests: steps to run before holding (−1: run freely)
    private volatile int _busy;

    public BatchScheduler(ServedModel model, DecodeEngine engine, ServerOptions options, ServerMetrics metrics, Action<string>? log = null)
    {
        _model = model;
        _engine = engine;
        _metrics = metrics;
        _log = log ?? (_ => { });
        _parallel = options.Parallel;
        _queueLimit = options.QueueLimit;
        _prefillChunk = options.PrefillChunk;
        _vocab = model.Tokenizer.VocabSize;
        _speculative = options.Speculative == SpeculativeMode.Mtp;
        if (_speculative && !engine.HasMtp)
            throw new InvalidInputException("--speculative mtp needs a model with an MTP module (num_nextn_predict_layers ≥ 1).");
        var c = model.Model.Config;
        long hiddenBytesPerPosition = c.MtpDepth > 0 ? (long)c.HiddenSize * sizeof(float) : 0;
        _cache = new PromptCache(options.PromptCacheBytes, s => s.CacheBytes + s.Capacity * hiddenBytesPerPosition);
        _inputs = new DecodeInput[_parallel];
        _drafts = new DraftInput[_parallel];
        _stepSlots = new Slot[_parallel];
        metrics.Attach(Gauges, c.NumHiddenLayers);
        _thread = new Thread(Run) { IsBackground = true, Name = "seeksharp scheduler" };
        _thread.Start();
    }

    public int Slots => _parallel;

    /// <summary>Hands a request to the scheduler; its events follow on <see cref="GenerationJob.Events"/> when accepted.</summary>
    /// <exception cref="InvalidInputException">The prompt does not leave room for one generated token in the context.</exception>
    public SubmitResult Submit(GenerationJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.Prompt.Length >= _model.Context) throw new ContextFullException(_model.Context, job.Prompt.Length + 1);
        foreach (int t in job.Prompt)
            if ((uint)t >= (uint)_vocab) throw new InvalidInputException($"Token id {t} is outside the vocabulary (0..{_vocab - 1}).");
        var result = SubmitResult.Accepted;
        lock (_gate)
        {
            if (!_accepting) result = SubmitResult.ShuttingDown;
            else if (_pending >= _parallel + _queueLimit) result = SubmitResult.QueueFull;
            else
            {
                _pending++;
                job.SubmittedAt = Stopwatch.GetTimestamp();
                _incoming.Enqueue(job);
            }
        }
        if (result != SubmitResult.Accepted)
        {
            _metrics.Rejected(result == SubmitResult.QueueFull ? "queue_full" : "shutting_down");
            return result;
        }
        job.CancellationToken.Register(Wake);
        Wake();
        return SubmitResult.Accepted;
    }

    /// <summary>Stops taking requests; those in flight go on until <see cref="CancelAll"/> or completion.</summary>
    public void StopAccepting()
    {
        lock (_gate) _accepting = false;
        Wake();
    }

    /// <summary>Cancels every request in flight or waiting (shutdown after the grace period).</summary>
    public void CancelAll()
    {
        _cancelAll = true;
        Wake();
    }

    /// <summary>Requests submitted and not finished.</summary>
    public int InFlight
    {
        get { lock (_gate) return _pending; }
    }

    /// <summary>Holds the scheduler between steps (tests: to line requests up deterministically). Cancellations are still handled.</summary>
    internal void Pause() => _stepsLeft = 0;

    /// <summary>Runs <paramref name="steps"/> more steps (admitting as usual), then holds again.</summary>
    internal void RunSteps(int steps)
    {
        _stepsLeft = steps;
        Wake();
    }

    internal void Resume()
    {
        _stepsLeft = -1;
        Wake();
    }

    public void Dispose()
    {
        lock (_gate) _accepting = false;
        _stop = true;
        Wake();
        _thread.Join();
    }

    private void Wake()
    {
        try { _wake.Set(); }
        catch (ObjectDisposedException) { }
    }

    private ServerMetrics.SchedulerGauges Gauges()
    {
        int pending;
        lock (_gate) pending = _pending;
        int busy = _busy;
        return new(Math.Max(0, pending - busy), busy, _parallel, _cache.Bytes, _cache.Count, _cache.BudgetBytes);
    }

    private void Run()
    {
        while (true)
        {
            TakeIncoming();
            if (_stop)
            {
                foreach (var slot in _active.ToArray()) Finish(slot, FinishReason.Cancelled);
                foreach (var job in _waiting) Release(job, new Finished(FinishReason.Cancelled, new UsageCounts(job.Prompt.Length, 0, 0)));
                _waiting.Clear();
                _busy = 0;
                return;
            }
            DropCancelled();
            if (_stepsLeft == 0 || (_active.Count == 0 && _waiting.Count == 0))
            {
                _busy = _active.Count;
                _wake.WaitOne();
                continue;
            }
            Admit();
            _busy = _active.Count;
            if (_active.Count == 0) continue;
            try
            {
                Step();
                if (_stepsLeft > 0) _stepsLeft--;
            }
            catch (Exception e)
            {
                // The forward itself failed: every sequence in it is in an unknown state.
                _log($"error: a step failed: {e.Message}");
                foreach (var slot in _active.ToArray()) Fail(slot, e);
            }
            _active.RemoveAll(s => s.Done);
            _busy = _active.Count;
        }
    }

    private void TakeIncoming()
    {
        lock (_gate)
            while (_incoming.TryDequeue(out var job)) _waiting.Add(job);
    }

    private void DropCancelled()
    {
        bool all = _cancelAll;
        for (int i = _waiting.Count - 1; i >= 0; i--)
        {
            var job = _waiting[i];
            if (!all && !job.IsCancelled) continue;
            _waiting.RemoveAt(i);
            _metrics.Finished(FinishReason.Cancelled);
            Release(job, new Finished(FinishReason.Cancelled, new UsageCounts(job.Prompt.Length, 0, 0)));
        }
        foreach (var slot in _active)
            if (all || slot.Job.IsCancelled) Finish(slot, FinishReason.Cancelled);
        _active.RemoveAll(s => s.Done);
    }

    private void Admit()
    {
        while (_active.Count < _parallel && _waiting.Count > 0)
        {
            var job = _waiting[0];
            _waiting.RemoveAt(0);
            try
            {
                _active.Add(Open(job));
            }
            catch (Exception e)
            {
                _log($"error: could not start a request: {e.Message}");
                _metrics.Failed();
                Release(job, new Failed(e.Message));
            }
        }
    }

    /// <summary>A slot for <paramref name="job"/>: a fork of the cached sequence sharing the longest prefix with its prompt, or a new sequence.</summary>
    private Slot Open(GenerationJob job)
    {
        var prompt = job.Prompt;
        int capacity = (int)Math.Min(_model.Context, (long)prompt.Length + job.Parameters.MaxTokens);
        var (source, shared) = _cache.BudgetBytes > 0 ? _cache.Match(prompt, prompt.Length - 1) : (null, 0);
        var sequence = source is not null ? _engine.Fork(source, shared, capacity) : _engine.NewSequence(capacity);
        var slot = new Slot(job, sequence, shared, _vocab, _model.Tokenizer);
        _metrics.Admitted(prompt.Length, shared, _cache.BudgetBytes > 0, Stopwatch.GetElapsedTime(job.SubmittedAt).TotalSeconds);
        return slot;
    }

    private void Step()
    {
        Draft();
        int n = 0, rows = 0, prefilled = 0, budget = _prefillChunk;
        foreach (var slot in _active)
        {
            if (slot.Prefilling)
            {
                if (budget == 0) continue;
                int count = Math.Min(budget, slot.Job.Prompt.Length - slot.Cursor);
                _inputs[n] = new DecodeInput(slot.Sequence, slot.Job.Prompt.AsMemory(slot.Cursor, count));
                slot.StepTokens = count;
                budget -= count;
                prefilled += count;
            }
            else if (slot.Speculating)
            {
                _inputs[n] = new DecodeInput(slot.Sequence, slot.Pair, AllLogits: true);   // [x, draft]: verified in this forward
                slot.StepTokens = 2;
            }
            else
            {
                slot.One[0] = slot.NextToken;
                _inputs[n] = new DecodeInput(slot.Sequence, slot.One);
                slot.StepTokens = 1;
            }
            rows += slot.StepTokens;
            _stepSlots[n++] = slot;
        }
        long start = Stopwatch.GetTimestamp();
        _engine.Step(_inputs.AsSpan(0, n));
        RecordExpertLoad();
        int generated = 0, drafted = 0, accepted = 0;
        for (int i = 0; i < n; i++)
        {
            var slot = _stepSlots[i];
            _stepSlots[i] = null!;
            _inputs[i] = default;
            if (slot.Prefilling)
            {
                slot.Cursor += slot.StepTokens;
                if (slot.Prefilling) continue;          // more of the prompt to go: no token yet
            }
            try
            {
                if (slot.Speculating)
                {
                    drafted++;
                    var (tokens, ok) = Verify(slot, i);
                    generated += tokens;
                    if (ok) accepted++;
                }
                else
                {
                    var logits = slot.Constrain(_engine.Logits(i));
                    generated += Take(slot, slot.Sampler.Sample(logits, CollectionsMarshal.AsSpan(slot.History)), logits);
                }
            }
            catch (Exception e)
            {
                _log($"error: sampling failed: {e.Message}");
                Fail(slot, e);
            }
        }
        long end = Stopwatch.GetTimestamp();
        _metrics.Step(n, rows, prefilled, generated, Stopwatch.GetElapsedTime(start, end).TotalSeconds, end);
        if (drafted > 0) _metrics.Speculation(drafted, accepted);
    }

    /// <summary>
    /// With --speculative mtp, when no prompt is being prefilled: the MTP module drafts, in one forward for all of them,
    /// the token after the next for every decoding sequence with room for two more tokens (spec §9.4, as Generator does
    /// it for one sequence). The step then verifies [next, draft] for each.
    /// </summary>
    private void Draft()
    {
        foreach (var slot in _active) slot.Speculating = false;
        // A step that prefills does not verify drafts: every prefill row would need its logits too.
        if (!_speculative || _active.Exists(s => s.Prefilling)) return;
        int m = 0;
        foreach (var slot in _active)
        {
            var seq = slot.Sequence;
            if (seq.Capacity - seq.Length < 2 || slot.Job.Parameters.MaxTokens - slot.Generated < 2 || slot.Constraint is not null) continue;
            _drafts[m++] = new DraftInput(seq, slot.NextToken);
            slot.Speculating = true;
        }
        if (m == 0) return;
        var logits = _engine.Draft(_drafts.AsSpan(0, m));
        int j = 0;
        foreach (var slot in _active)
        {
            if (!slot.Speculating) continue;
            _drafts[j] = default;
            var row = logits.Row(j++);
            var history = CollectionsMarshal.AsSpan(slot.History);
            int draft;
            if (slot.Sampler.Options.IsGreedy) draft = slot.Sampler.Sample(row, history);
            else
            {
                slot.EnsureDistributions(row.Length);
                slot.Sampler.Distribution(row, history, slot.Q);
                draft = slot.Sampler.SampleFrom(slot.Q);
            }
            slot.Pair[0] = slot.NextToken;
            slot.Pair[1] = draft;
        }
    }

    /// <summary>
    /// Checks a slot's draft against the main model's logits after its next token: greedy keeps it when it is the
    /// argmax, sampling with probability min(1, p/q) (else a draw from max(0, p − q)); a kept draft gives one more token
    /// for free from the logits after it, a rejected one is rolled back. Greedy output is the same as without drafting.
    /// </summary>
    private (int Tokens, bool Accepted) Verify(Slot slot, int input)
    {
        var seq = slot.Sequence;
        int draft = slot.Pair[1];
        var afterNext = _engine.Logits(input, 0);
        int corrected;
        bool accepted;
        if (slot.Sampler.Options.IsGreedy)
        {
            corrected = slot.Sampler.Sample(afterNext, CollectionsMarshal.AsSpan(slot.History));
            accepted = corrected == draft;
        }
        else
        {
            slot.Sampler.Distribution(afterNext, CollectionsMarshal.AsSpan(slot.History), slot.P);
            accepted = slot.Sampler.AcceptDraft(slot.P, slot.Q, draft, out corrected);
        }
        if (!accepted)
        {
            seq.Truncate(seq.Length - 1);               // keep the next token, drop the draft
            return (Take(slot, corrected, afterNext), false);
        }
        int tokens = Take(slot, draft, afterNext);
        if (slot.Done) return (tokens, true);
        var afterDraft = _engine.Logits(input, 1);
        int bonus = slot.Sampler.Sample(afterDraft, CollectionsMarshal.AsSpan(slot.History));
        return (tokens + Take(slot, bonus, afterDraft), true);
    }

    private void RecordExpertLoad()
    {
        var layers = _model.Model.Layers;
        for (int l = 0; l < layers.Length; l++)
        {
            if (layers[l].Moe is not { } moe) continue;
            var counts = _engine.State.Layers[l].Moe.Counts;
            int experts = moe.Experts.Length;
            if (counts.Length >= experts) _metrics.ExpertLoad(l, counts.AsSpan(0, experts));
        }
    }

    /// <summary>
    /// Tells the request about <paramref name="token"/>, chosen from <paramref name="logits"/> (for its
    /// log-probabilities), and ends the slot at the end of sequence, a stop string, the limit or a full cache; otherwise
    /// the token is fed at the next step. 1 if a token was generated, 0 at the end of sequence.
    /// </summary>
    private int Take(Slot slot, int token, ReadOnlySpan<float> logits)
    {
        var p = slot.Job.Parameters;
        if (!slot.FirstTokenSeen)
        {
            slot.FirstTokenSeen = true;
            _metrics.FirstToken(Stopwatch.GetElapsedTime(slot.Job.SubmittedAt).TotalSeconds);
        }
        if (token == _model.EosId && !p.IgnoreEos)
        {
            Finish(slot, FinishReason.EndOfSequence);
            return 0;
        }
        slot.Constraint?.Accept(token);
        var logprob = p.TopLogprobs is { } top ? LogprobCalculator.Compute(logits, _vocab, token, top, _model.Tokenizer) : null;
        slot.History.Add(token);
        slot.Generated++;
        var r = slot.Stops.Append(slot.Decoder.Append(token));
        Emit(slot, r.Emit, logprob);
        if (r.Stopped) Finish(slot, FinishReason.StopString);
        else if (slot.Constraint is { IsComplete: true }) Finish(slot, FinishReason.EndOfSequence);     // the JSON is complete
        else if (slot.Generated >= p.MaxTokens) Finish(slot, FinishReason.Length);
        else if (slot.Sequence.Length >= slot.Sequence.Capacity) Finish(slot, FinishReason.ContextFull);
        else slot.NextToken = token;
        return 1;
    }

    private static void Emit(Slot slot, string text, TokenLogprob? logprob)
    {
        if (text.Length == 0 && logprob is null) return;
        slot.Job.Writer.TryWrite(new TextDelta(text, logprob is null ? [] : [logprob]));
    }

    /// <summary>Ends a slot: the text held back (unless cancelled), the finish event, and its sequence into the prompt cache.</summary>
    private void Finish(Slot slot, FinishReason reason)
    {
        if (slot.Done) return;
        if (reason != FinishReason.Cancelled && !slot.Stops.Stopped)
        {
            var r = slot.Stops.Append(slot.Decoder.Flush());
            string rest = r.Stopped ? r.Emit : r.Emit + slot.Stops.Flush();
            if (r.Stopped) reason = FinishReason.StopString;
            Emit(slot, rest, null);
        }
        slot.Done = true;
        _metrics.Finished(reason);
        if (_cache.BudgetBytes > 0) _cache.Add(slot.Sequence);
        Release(slot.Job, new Finished(reason, slot.Usage));
    }

    private void Fail(Slot slot, Exception e)
    {
        if (slot.Done) return;
        slot.Done = true;
        _metrics.Failed();
        Release(slot.Job, new Failed(e.Message));
    }

    /// <summary>Sends the last event, closes the request's stream and frees its place in the count.</summary>
    private void Release(GenerationJob job, GenerationEvent last)
    {
        job.Writer.TryWrite(last);
        job.Writer.TryComplete();
        lock (_gate) _pending--;
    }
}
