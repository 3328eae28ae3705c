using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Inference;

/// <summary>What one sequence contributes to a <see cref="DecodeEngine.Step"/>: its new tokens, and whether every row's logits are wanted (verifying a draft) or only the last.</summary>
public readonly record struct DecodeInput(Sequence Sequence, ReadOnlyMemory<int> Tokens, bool AllLogits = false);

/// <summary>A sequence to draft for with the MTP module: the token that will be at position Length (architecture.md §9.4).</summary>
public readonly record struct DraftInput(Sequence Sequence, int NextToken);

/// <summary>
/// The one place that runs a model over cached sequences. It owns the forward context and activations; each
/// <see cref="Sequence"/> owns its caches. One <see cref="Step"/> runs a single forward over any mix of sequences —
/// N conversations decoding one token each (continuous batching), a prompt being prefilled beside them, a draft being
/// verified — every sequence at its own position with its own cache (a <see cref="RaggedBatch"/>). A new sequence can
/// start from another's cached prefix (<see cref="Fork"/>) instead of recomputing it. MTP drafting keeps the MTP
/// module's cache in the sequence as well, so no caller patches cache lengths. Not thread-safe: one thread drives it.
/// </summary>
public sealed class DecodeEngine
{
    private readonly ForwardContext _ctx;
    private readonly ModelState _state;
    private readonly RaggedBatch _batch = new();
    private readonly ForwardRequest _lastRows = new() { LogitsRows = LogitsRows.LastPerSequence };
    private readonly ForwardRequest _allRows = new() { LogitsRows = LogitsRows.All };
    private int[] _tokens = new int[64];
    private int[] _logitsRow = new int[8];     // per input: its first logits row
    private bool _allLogits;

    public DeepSeekModel Model { get; }
    public WorkerPool Pool { get; }
    public bool HasMtp => Model.Mtp.Length > 0;

    /// <summary>The activations of the last step (hidden states when asked for, routing).</summary>
    public ModelState State => _state;

    /// <summary>
    /// An engine over <paramref name="model"/>; chunks of more than <see cref="Mla.AbsorbedMaxRows"/> tokens attend in
    /// <paramref name="prefillAttention"/> form. <paramref name="dump"/>, when given, receives the intermediates of every
    /// step and draft (docs/architecture.md §23).
    /// </summary>
    public DecodeEngine(DeepSeekModel model, WorkerPool pool, AttentionMode prefillAttention = AttentionMode.Naive, IActivationSink? dump = null)
    {
        Model = model;
        Pool = pool;
        _ctx = new ForwardContext(pool) { Attention = prefillAttention, Dump = dump };
        _state = model.CreateState();
    }

    /// <summary>An empty sequence with caches for <paramref name="capacity"/> positions.</summary>
    public Sequence NewSequence(int capacity)
    {
        if (capacity <= 0) throw new InvalidInputException($"The context length must be positive, got {capacity}.");
        if (capacity > Model.Config.MaxPositionEmbeddings)
            throw new InvalidInputException($"A context of {capacity} exceeds this model's max_position_embeddings ({Model.Config.MaxPositionEmbeddings}).");
        Model.Rope.EnsureCapacity(capacity);
        return new Sequence(Model.Config, capacity);
    }

    /// <summary>
    /// A new sequence holding the first <paramref name="length"/> positions of <paramref name="source"/> (a shared
    /// system prompt, the earlier turns of a conversation): its latents are copied, not recomputed.
    /// </summary>
    public Sequence Fork(Sequence source, int length, int? capacity = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var sequence = NewSequence(capacity ?? source.Capacity);
        sequence.CopyPrefixFrom(source, length, Model.Config.HiddenSize);
        return sequence;
    }

    /// <summary>
    /// One forward over every input's new tokens, each appended to its own sequence. Afterwards
    /// <see cref="Logits(int, int)"/> gives each input's logits (valid until the next call).
    /// </summary>
    public void Step(ReadOnlySpan<DecodeInput> inputs, bool collectHiddenStates = false)
    {
        if (inputs.IsEmpty) throw new InvalidInputException("A step needs at least one sequence.");
        int rows = 0;
        _allLogits = false;
        foreach (var input in inputs)
        {
            if (input.Tokens.IsEmpty) throw new InvalidInputException("Every sequence in a step needs at least one new token.");
            rows += input.Tokens.Length;
            _allLogits |= input.AllLogits;
        }
        if (_tokens.Length < rows) _tokens = new int[Math.Max(rows, 2 * _tokens.Length)];
        if (_logitsRow.Length < inputs.Length) _logitsRow = new int[Math.Max(inputs.Length, 2 * _logitsRow.Length)];
        _batch.Clear();
        int row = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            var (sequence, tokens, _) = inputs[i];
            if (sequence.Length + tokens.Length > sequence.Capacity) throw new ContextFullException(sequence.Capacity, sequence.Length + tokens.Length);
            tokens.Span.CopyTo(_tokens.AsSpan(row));
            _batch.Add(tokens.Length, sequence.Length, sequence.Cache);
            _logitsRow[i] = _allLogits ? row : i;
            row += tokens.Length;
        }
        _ctx.Arena.Reset();
        var request = _allLogits ? _allRows : _lastRows;
        if (collectHiddenStates) request = request with { CollectHiddenStates = true };
        Model.Forward(_ctx, _tokens.AsSpan(0, rows), _batch, _state, request);
        int d = Model.Config.HiddenSize;
        foreach (var input in inputs)
        {
            // The caches already hold the new positions; record the tokens and, for MTP, the post-norm hidden states.
            var seq = input.Sequence;
            int length = input.Tokens.Length, start = seq.Length - length;
            seq.AppendTokens(input.Tokens.Span);
            if (seq.Hidden is { } hidden)
            {
                int r0 = FirstRow(input.Sequence);
                _state.Normed.Span.Slice(r0 * d, length * d).CopyTo(hidden.AsSpan(start * d));
            }
        }
    }

    private int FirstRow(Sequence sequence)
    {
        foreach (var seg in _batch.Segments)
            if (ReferenceEquals(seg.Cache, sequence.Cache)) return seg.RowStart;
        throw new InvalidOperationException("The sequence was not in the last step.");
    }

    /// <summary>
    /// Input <paramref name="input"/>'s logits after its token <paramref name="row"/> (−1: its last) of the last step;
    /// any row only when some input of that step asked for <see cref="DecodeInput.AllLogits"/>.
    /// </summary>
    public ReadOnlySpan<float> Logits(int input, int row = -1)
    {
        var seg = _batch.Segments[input];
        if (row < 0) row = seg.Length - 1;
        if (row >= seg.Length) throw new ArgumentOutOfRangeException(nameof(row), $"Input {input} had {seg.Length} tokens.");
        if (!_allLogits && row != seg.Length - 1) throw new InvalidOperationException("Only the last row's logits were computed; ask for AllLogits.");
        int at = _allLogits ? _logitsRow[input] + row : input;
        return _state.Logits.Row(at);
    }

    /// <summary>
    /// The MTP module's logits for each input: the draft for position Length + 1 of its sequence, given that its
    /// NextToken will be at position Length (architecture.md §9.4). Brings each sequence's MTP cache up to date first (one row per
    /// cached position not yet drafted from), all sequences in one forward. Row i of the result is input i's, valid
    /// until the next call.
    /// </summary>
    public Tensor Draft(ReadOnlySpan<DraftInput> inputs)
    {
        if (!HasMtp) throw new InvalidInputException("This model has no MTP module to draft with (num_nextn_predict_layers = 0).");
        if (inputs.IsEmpty) throw new InvalidInputException("Drafting needs at least one sequence.");
        var c = Model.Config;
        int d = c.HiddenSize, rows = 0;
        foreach (var input in inputs)
        {
            if (input.Sequence.Length == 0) throw new InvalidOperationException("Drafting needs at least one token in the cache.");
            rows += input.Sequence.Length - input.Sequence.MtpLength;
        }
        if (_tokens.Length < rows) _tokens = new int[Math.Max(rows, 2 * _tokens.Length)];
        _ctx.Arena.Reset();
        var previous = _ctx.Arena.AllocateUninitialized(new TensorShape(rows, d));   // [rows, d] h_i of every pending row
        _batch.Clear();
        int row = 0;
        foreach (var (seq, nextToken) in inputs)
        {
            seq.MtpCache ??= new LatentKvCache(1, seq.Capacity, c.KvLoraRank, c.QkRopeHeadDim);
            int start = seq.MtpLength, count = seq.Length - start;
            for (int i = 0; i < count; i++)
                _tokens[row + i] = start + i + 1 < seq.Length ? seq.Tokens[start + i + 1] : nextToken;
            seq.Hidden.AsSpan(start * d, count * d).CopyTo(previous.Span.Slice(row * d));
            _batch.Add(count, start, seq.MtpCache);
            row += count;
        }
        var mtpState = _state.Mtp[0];
        Model.Mtp[0].Run(_ctx, previous, _tokens.AsSpan(0, rows), _batch, mtpState, lastRowOnly: true);
        foreach (var input in inputs) input.Sequence.MtpLength = input.Sequence.Length;
        return mtpState.Logits;
    }
}
