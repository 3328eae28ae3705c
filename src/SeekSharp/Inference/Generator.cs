using System.Diagnostics;
using SeekSharp.Tokenization;

namespace SeekSharp.Inference;

/// <summary>
/// Turns a prompt into streamed text: prefill, then sample token by token (or draft with MTP and verify two at a
/// time), stopping at the end-of-sequence token, a stop string or the token limit. Text is yielded as soon as it is
/// complete characters and cannot be part of a stop string.
/// </summary>
/// <remarks>
/// Speculation (docs/architecture.md §9.4): with x the token just chosen, the MTP module drafts d for the position after it; one
/// forward over [x, d] gives the main model's logits after x and after d. Greedy: d is kept when it is the argmax after
/// x, and then the logits after d give one more token for free; otherwise the argmax replaces d and the cache entry of d
/// is rolled back. Sampling: d is kept with probability min(1, p(d)/q(d)), else replaced by a draw from max(0, p − q).
/// Every token's logits are computed exactly as plain decoding computes them, so greedy output is identical with and
/// without speculation.
/// </remarks>
public sealed class Generator
{
    private readonly InferenceSession _session;
    private readonly Tokenizer _tokenizer;
    private readonly int _eos;

    public Generator(InferenceSession session, Tokenizer tokenizer)
    {
        _session = session;
        _tokenizer = tokenizer;
        _eos = tokenizer.EosId ?? session.Model.Config.EosTokenId ?? -1;
        if (tokenizer.VocabSize > session.Model.Config.VocabSize)
            throw new InvalidInputException($"The tokenizer has {tokenizer.VocabSize} tokens but the model only {session.Model.Config.VocabSize} embedding rows.");
    }

    public InferenceSession Session => _session;
    public Tokenizer Tokenizer => _tokenizer;

    /// <summary>Streams the reply to <paramref name="prompt"/>; <paramref name="stats"/> is filled in as it goes.</summary>
    public IEnumerable<string> Generate(IReadOnlyList<int> prompt, GenerationOptions options, GenerationStats stats, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (prompt.Count == 0) throw new InvalidInputException("The prompt is empty.");
        if (prompt.Count >= _session.ContextLength)
            throw new ContextFullException(_session.ContextLength, prompt.Count + 1);
        if (options.Speculative == SpeculativeMode.Mtp && !_session.HasMtp)
            throw new InvalidInputException("--speculative mtp needs a model with an MTP module (num_nextn_predict_layers ≥ 1).");
        var sampler = new Sampler(options.Sampling, _tokenizer.VocabSize);
        var decoder = _tokenizer.CreateStreamingDecoder(options.SkipSpecialTokens);
        var stops = new StopStringMatcher(options.StopStrings);
        var history = new List<int>(prompt);
        var clock = Stopwatch.StartNew();

        var promptArray = prompt.ToArray();
        stats.PromptTokens = prompt.Count;
        stats.ReusedPromptTokens = _session.KeepCommonPrefix(promptArray);
        var logits = new float[_session.Model.Config.VocabSize];
        _session.Append(promptArray.AsSpan(stats.ReusedPromptTokens), cancellationToken).CopyTo(logits);
        stats.PrefillSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();

        int forwards = 1;                   // main-model forwards after the prefill (the prefill gives the first token)
        var pending = new Queue<int>();     // chosen tokens not yet shown, in order
        var row = new float[logits.Length];
        var p = new float[logits.Length];
        var q = new float[logits.Length];
        var one = new int[1];
        var pair = new int[2];
        int next = sampler.Sample(logits, CollectionsSpan(history));
        pending.Enqueue(next);
        stats.FinishReason = FinishReason.Length;
        bool finished = false;
        while (!finished)
        {
            // Show what has been chosen; stop at EOS, a stop string or the limit.
            while (pending.Count > 0)
            {
                int token = pending.Dequeue();
                if (token == _eos) { stats.FinishReason = FinishReason.EndOfSequence; finished = true; break; }
                history.Add(token);
                stats.GeneratedTokens++;
                var r = stops.Append(decoder.Append(token));
                if (r.Emit.Length > 0) yield return r.Emit;
                if (r.Stopped) { stats.FinishReason = FinishReason.StopString; finished = true; break; }
                if (stats.GeneratedTokens >= options.MaxTokens) { stats.FinishReason = FinishReason.Length; finished = true; break; }
            }
            if (finished) break;
            if (cancellationToken.IsCancellationRequested) { stats.FinishReason = FinishReason.Cancelled; break; }
            int x = history[^1];
            int room = _session.ContextLength - _session.Length;
            if (room < 1) { stats.FinishReason = FinishReason.ContextFull; break; }
            bool speculate = options.Speculative == SpeculativeMode.Mtp && room >= 2 && options.MaxTokens - stats.GeneratedTokens >= 2;
            if (!speculate)
            {
                one[0] = x;
                _session.Append(one, cancellationToken).CopyTo(logits);
                forwards++;
                pending.Enqueue(sampler.Sample(logits, CollectionsSpan(history)));
                continue;
            }
            // Draft d after x with the MTP module, then verify [x, d] in one forward.
            _session.Draft(x).CopyTo(logits);
            int d;
            if (options.Sampling.IsGreedy) d = sampler.Sample(logits, CollectionsSpan(history));
            else
            {
                sampler.Distribution(logits, CollectionsSpan(history), q);
                d = sampler.SampleFrom(q);
            }
            int before = _session.Length;
            (pair[0], pair[1]) = (x, d);
            var rows = _session.AppendAll(pair);
            forwards++;
            rows.Row(0).CopyTo(row);                   // logits after x
            rows.Row(1).CopyTo(logits);                // logits after d
            stats.Drafted++;
            bool accepted;
            int corrected;
            if (options.Sampling.IsGreedy)
            {
                corrected = sampler.Sample(row, CollectionsSpan(history));
                accepted = corrected == d;
            }
            else
            {
                sampler.Distribution(row, CollectionsSpan(history), p);
                accepted = sampler.AcceptDraft(p, q, d, out corrected);
            }
            if (!accepted)
            {
                _session.Truncate(before + 1);         // keep x, drop d
                pending.Enqueue(corrected);
                continue;
            }
            stats.Accepted++;
            pending.Enqueue(d);
            if (d == _eos) continue;
            history.Add(d);                            // the bonus token is conditioned on d
            int bonus = sampler.Sample(logits, CollectionsSpan(history));
            history.RemoveAt(history.Count - 1);
            pending.Enqueue(bonus);
        }
        stats.DecodeSeconds = clock.Elapsed.TotalSeconds;
        stats.TokensPerForward = (double)stats.GeneratedTokens / forwards;
        var tail = decoder.Flush();
        var rest = stops.Stopped ? "" : stops.Append(tail).Emit + stops.Flush();
        if (rest.Length > 0 && stats.FinishReason != FinishReason.StopString) yield return rest;
    }

    private static ReadOnlySpan<int> CollectionsSpan(List<int> list) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);
}
