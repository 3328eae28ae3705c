using System.Numerics.Tensors;
using SeekSharp.Tensors;

namespace SeekSharp.Inference;

/// <summary>
/// Chooses the next token from a row of logits under <see cref="SamplingOptions"/>, with its own seedable
/// generator. Per call, over the allowed ids only (ids ≥ <see cref="AllowedVocab"/> are the padding rows of the
/// LM head, docs/architecture.md §8, and are never chosen):
/// <list type="number">
/// <item>penalties on the logits of the tokens in the penalty window (<see cref="Penalties"/>);</item>
/// <item>greedy (T = 0): the argmax, ties to the lowest id, and stop here;</item>
/// <item>top-k: the k largest logits (ties to the lower id), found by partial selection;</item>
/// <item>w_i = exp((l_i − max l) / T): softmax(l / T) before its normalisation;</item>
/// <item>top-p: the smallest set of most likely tokens whose probability reaches P, the boundary token included,
/// found by radix selection on the weights' bits;</item>
/// <item>min-p: drop tokens with w_i &lt; MinP · max w;</item>
/// <item>draw from w / Σw by inverting its CDF with one uniform number (<see cref="Categorical"/>).</item>
/// </list>
/// After construction nothing is allocated per call. Not thread-safe: one sampler per generation.
/// </summary>
public sealed class Sampler
{
    private const int TopKSample = 4096;        // logits sampled to bound the k-th largest (at least 8k of them)

    private readonly float[] _values;           // [AllowedVocab] the working logits, then the candidates' weights w
    private readonly int[] _ids;                // [AllowedVocab] token id of _values[j], once candidates are reordered
    private readonly int[] _counts;             // [AllowedVocab] penalty scratch, all zero between calls
    private readonly float[] _sampleLogits;     // [s] top-k's evenly spaced sample of the logits, empty without top-k
    private readonly int[] _sampleIds;          // [s]
    private readonly double[] _massByDigit = new double[256];      // top-p's weight histogram
    private Rng _rng;

    public SamplingOptions Options { get; }

    /// <summary>Ids in [0, AllowedVocab) can be chosen; the logits may be longer (padding rows).</summary>
    public int AllowedVocab { get; }

    /// <summary>The seed in use: the options' or, when they have none, a drawn one (log it to reproduce a run).</summary>
    public ulong Seed { get; }

    public Sampler(SamplingOptions options, int allowedVocab)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (allowedVocab <= 0) throw new InvalidInputException($"A sampler needs at least one allowed token id, not {allowedVocab}.");
        Options = options;
        AllowedVocab = allowedVocab;
        Seed = options.Seed ?? (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        _rng = new Rng(Seed);
        _values = new float[allowedVocab];
        _ids = new int[allowedVocab];
        _counts = options.HasPenalties ? new int[allowedVocab] : [];
        int sample = options.TopK > 0 ? (int)Math.Min(allowedVocab, Math.Max(TopKSample, 8L * options.TopK)) : 0;
        _sampleLogits = sample < allowedVocab ? new float[sample] : [];
        _sampleIds = sample < allowedVocab ? new int[sample] : [];
    }

    /// <summary>
    /// The generator's state: save it with the generated tokens, set it back to continue (or replay) a generation
    /// exactly. Non-greedy <see cref="Sample"/> and <see cref="SampleFrom"/> advance it by one step per call.
    /// </summary>
    public (ulong, ulong, ulong, ulong) RngState
    {
        get => _rng.State;
        set => _rng.State = value != default ? value : throw new InvalidInputException("An all-zero generator state is not a valid xoshiro256** state.");
    }

    /// <summary>The next token for <paramref name="logits"/> ([vocab], vocab ≥ AllowedVocab) after <paramref name="history"/>.</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        var c = Prepare(logits, history);
        if (Options.IsGreedy) return c.Id(_ids, 0);   // no random number: greedy does not depend on the seed
        int j = Categorical.Draw(_values.AsSpan(0, c.Count), c.Total, ref _rng);
        return c.Id(_ids, j);
    }

    /// <summary>
    /// Writes the exact distribution <see cref="Sample"/> draws from for these inputs into
    /// <paramref name="probabilities"/> ([vocab], the length of the logits): w_i / Σw for the candidates left after
    /// every filter, 0 elsewhere (padding ids included); one-hot at the argmax when greedy. Draws nothing.
    /// </summary>
    public void Distribution(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Span<float> probabilities)
    {
        if (probabilities.Length != logits.Length)
            throw new InvalidInputException($"Distribution: {probabilities.Length} probabilities for {logits.Length} logits.");
        var c = Prepare(logits, history);
        probabilities.Clear();
        for (int j = 0; j < c.Count; j++) probabilities[c.Id(_ids, j)] = (float)(_values[j] / c.Total);
    }

    /// <summary>
    /// A token drawn from <paramref name="probabilities"/> (non-negative, normalised or not) with this sampler's
    /// generator; entries at or past <see cref="AllowedVocab"/> are ignored. Speculative decoding uses it to draw a
    /// draft token from q.
    /// </summary>
    public int SampleFrom(ReadOnlySpan<float> probabilities)
    {
        var p = probabilities[..Math.Min(probabilities.Length, AllowedVocab)];
        double total = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (!(p[i] >= 0) || float.IsPositiveInfinity(p[i]))
                throw new InvalidInputException($"SampleFrom: probability of token {i} is {p[i]}; it must be finite and ≥ 0.");
            total += p[i];
        }
        if (!(total > 0)) throw new InvalidInputException("SampleFrom: no allowed token has a positive probability.");
        return Categorical.Draw(p, total, ref _rng);
    }

    /// <summary>
    /// <see cref="SpeculativeAcceptance.Accept"/> with this sampler's generator, so a speculative generation is
    /// reproduced by one seed and resumed by one <see cref="RngState"/>.
    /// </summary>
    public bool AcceptDraft(ReadOnlySpan<float> p, ReadOnlySpan<float> q, int drafted, out int corrected) =>
        SpeculativeAcceptance.Accept(p, q, drafted, ref _rng, out corrected);

    /// <summary>The candidates left in _values[0, Count) (and _ids when HasIds), with their total weight.</summary>
    private readonly record struct Candidates(int Count, bool HasIds, double Total)
    {
        public int Id(int[] ids, int j) => HasIds ? ids[j] : j;
    }

    private Candidates Prepare(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int n = AllowedVocab;
        if (logits.Length < n) throw new InvalidInputException($"{logits.Length} logits for a sampler over {n} allowed token ids.");
        var x = _values.AsSpan(0, n);
        logits[..n].CopyTo(x);
        MaskNonFinite(x);
        if (Options.HasPenalties) Penalties.Apply(x, Window(history, logits.Length), Options, _counts);
        if (Options.IsGreedy)
        {
            _ids[0] = ArgMax(x);
            _values[0] = 1;
            return new Candidates(1, HasIds: true, Total: 1);
        }

        int m = n;
        bool hasIds = false;
        if (Options.TopK > 0 && Options.TopK < n) (m, hasIds) = (TopK(n, Options.TopK), true);
        TemperedWeights(_values.AsSpan(0, m), Options.Temperature);
        if (Options.TopP < 1) m = TopP(m, ref hasIds);
        if (Options.MinP > 0) m = MinP(m, ref hasIds);
        return new Candidates(m, hasIds, Categorical.Total(_values.AsSpan(0, m)));
    }

    /// <summary>
    /// w_i = exp((l_i − max l) / T), in place. Subtracting the maximum first keeps every exponent ≤ 0 (no overflow
    /// at any temperature) and gives the best candidate a weight of 1.
    /// </summary>
    private static void TemperedWeights(Span<float> x, float temperature)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Divide(x, temperature, x);
        TensorPrimitives.Exp(x, x);
    }

    /// <summary>
    /// Moves the k largest logits (ties to the lower id) and their ids to the front. When the vocabulary is large, an
    /// evenly spaced sample of s ≥ 8k logits bounds the k-th largest from below (k of the sample reach its k-th
    /// largest, so at least k of all do); keeping only the logits at or above it leaves about k·n/s to select from.
    /// </summary>
    private int TopK(int n, int k)
    {
        var x = _values.AsSpan(0, n);
        var ids = _ids.AsSpan(0, n);
        int m = n;
        if (_sampleLogits.Length > 0)
        {
            int s = _sampleLogits.Length;
            for (int j = 0; j < s; j++)
            {
                int i = (int)((long)j * n / s);
                (_sampleLogits[j], _sampleIds[j]) = (x[i], i);
            }
            CandidateOrder.SelectBest(_sampleLogits, _sampleIds, k);
            m = CandidateOrder.KeepAtLeast(x, ids, hasIds: false, TensorPrimitives.Min(_sampleLogits.AsSpan(0, k)));
        }
        else FillIdentity(ids);
        CandidateOrder.SelectBest(x[..m], ids[..m], k);
        return k;
    }

    /// <summary>Top-p by radix selection (<see cref="Nucleus"/>); returns the new count.</summary>
    private int TopP(int m, ref bool hasIds)
    {
        var w = _values.AsSpan(0, m);
        if (!hasIds) FillIdentity(_ids.AsSpan(0, m));
        hasIds = true;
        return Nucleus.Cut(w, _ids.AsSpan(0, m), Options.TopP * Categorical.Total(w), _massByDigit);
    }

    /// <summary>
    /// Drops candidates with w_i &lt; MinP · max w (HF's MinPLogitsWarper; the ratio does not change when the weights
    /// are renormalised, so it does not matter that top-p ran first).
    /// </summary>
    private int MinP(int m, ref bool hasIds)
    {
        var w = _values.AsSpan(0, m);
        m = CandidateOrder.KeepAtLeast(w, _ids.AsSpan(0, m), hasIds, Options.MinP * TensorPrimitives.Max(w));
        hasIds = true;
        return m;
    }

    /// <summary>
    /// NaN logits become −∞ (never chosen, as in the top-k kernel). If some logits are +∞ (a caller forcing tokens),
    /// those tokens share the probability equally and every other one gets none. A row with nothing finite left is
    /// an error: there is nothing to sample.
    /// </summary>
    private static void MaskNonFinite(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);   // NaN when any entry is NaN
        if (float.IsNaN(max) || float.IsPositiveInfinity(max))
        {
            bool forced = x.Contains(float.PositiveInfinity);
            for (int i = 0; i < x.Length; i++)
            {
                float v = x[i];
                x[i] = float.IsNaN(v) ? float.NegativeInfinity : !forced ? v : v == float.PositiveInfinity ? 0 : float.NegativeInfinity;
            }
            max = TensorPrimitives.Max(x);
        }
        if (max == float.NegativeInfinity)
            throw new InvalidInputException("Every allowed token has a logit of −∞ or NaN: there is nothing to sample.");
    }

    /// <summary>The last PenaltyWindow tokens of the history, checked to be token ids of this vocabulary.</summary>
    private ReadOnlySpan<int> Window(ReadOnlySpan<int> history, int vocab)
    {
        var window = history.Length > Options.PenaltyWindow ? history[^Options.PenaltyWindow..] : history;
        foreach (int id in window)
            if ((uint)id >= (uint)vocab) throw new InvalidInputException($"History token {id} is outside the vocabulary [0, {vocab}).");
        return window;
    }

    /// <summary>The first index of the largest value: ties go to the lowest id, so greedy is exactly reproducible.</summary>
    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        float bestValue = x[0];
        for (int i = 1; i < x.Length; i++)
            if (x[i] > bestValue) (best, bestValue) = (i, x[i]);
        return best;
    }

    private static void FillIdentity(Span<int> ids)
    {
        for (int i = 0; i < ids.Length; i++) ids[i] = i;
    }
}
