using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Inference;

/// <summary>
/// A model plus the state of one conversation: the latent KV cache sized for <see cref="ContextLength"/> positions
/// (layers × (kv_lora_rank + qk_rope_head_dim) floats per position, never the model's full 160K), the tokens it
/// holds, and, when MTP drafting is used, the MTP module's own cache. Prompts are prefilled in batched chunks;
/// generated tokens are decoded one (or a verified few) at a time in the absorbed form. Not thread-safe.
/// </summary>
public sealed class InferenceSession
{
    /// <summary>Prompt tokens processed per forward during prefill.</summary>
    public const int PrefillChunk = 512;

    private readonly ForwardContext _ctx;
    private readonly ModelState _state;
    private readonly List<int> _tokens = new();
    private readonly float[] _hidden;          // [ContextLength, d] post-final-norm hidden of every cached position (MTP's input)
    private readonly float[] _lastLogits;
    private LatentKvCache? _mtpCache;
    private int[] _draftTokens = new int[Mla.AbsorbedMaxRows];
    private int _mtpLength;                    // MTP rows computed: row i pairs hidden i with token i + 1

    public DeepSeekModel Model { get; }
    public WorkerPool Pool { get; }
    public int ContextLength { get; }
    public LatentKvCache Cache { get; }

    /// <summary>Positions held in the cache.</summary>
    public int Length => Cache.Length;
    public IReadOnlyList<int> Tokens => _tokens;
    public bool HasMtp => Model.Mtp.Length > 0;

    public InferenceSession(DeepSeekModel model, int contextLength, WorkerPool pool)
    {
        if (contextLength <= 0) throw new InvalidInputException($"The context length must be positive, got {contextLength}.");
        if (contextLength > model.Config.MaxPositionEmbeddings)
            throw new InvalidInputException($"A context of {contextLength} exceeds this model's max_position_embeddings ({model.Config.MaxPositionEmbeddings}).");
        Model = model;
        Pool = pool;
        ContextLength = contextLength;
        var c = model.Config;
        Cache = new LatentKvCache(c.NumHiddenLayers, contextLength, c.KvLoraRank, c.QkRopeHeadDim);
        _ctx = new ForwardContext(pool);
        _state = model.CreateState();
        _hidden = new float[(long)contextLength * c.HiddenSize is var n && n <= Array.MaxLength ? (int)n : throw new InvalidInputException("The context is too long for this hidden size.")];
        _lastLogits = new float[c.VocabSize];
        model.Rope.EnsureCapacity(contextLength);
    }

    /// <summary>The default context: 4096 positions, or the model's maximum if smaller.</summary>
    public static int DefaultContext(ModelConfig c) => Math.Min(4096, c.MaxPositionEmbeddings);

    /// <summary>Bytes of KV cache held (main, plus MTP once drafting started).</summary>
    public long CacheBytes => Cache.Bytes + (_mtpCache?.Bytes ?? 0);

    /// <summary>
    /// Appends <paramref name="tokens"/> (a prompt: in chunks of <see cref="PrefillChunk"/>) and returns the logits after
    /// the last one, valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens, CancellationToken cancellationToken = default)
    {
        if (tokens.IsEmpty) throw new InvalidInputException("Nothing to append.");
        CheckRoom(tokens.Length);
        for (int start = 0; start < tokens.Length; start += PrefillChunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = tokens.Slice(start, Math.Min(PrefillChunk, tokens.Length - start));
            Forward(chunk, LogitsRows.LastPerSequence);
            _state.Logits.Row(0).CopyTo(_lastLogits);
        }
        return _lastLogits;
    }

    /// <summary>Appends a few tokens in one forward and returns every row's logits [n, V] (speculative verification), valid until the next call.</summary>
    public Tensor AppendAll(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty || tokens.Length > Mla.AbsorbedMaxRows) throw new InvalidInputException($"AppendAll takes 1 to {Mla.AbsorbedMaxRows} tokens.");
        CheckRoom(tokens.Length);
        Forward(tokens, LogitsRows.All);
        return _state.Logits;
    }

    private void CheckRoom(int count)
    {
        if (Length + count > ContextLength) throw new ContextFullException(ContextLength, Length + count);
    }

    private void Forward(ReadOnlySpan<int> tokens, LogitsRows rows)
    {
        int start = Length, d = Model.Config.HiddenSize;
        _ctx.Arena.Reset();
        Model.Forward(_ctx, tokens, BatchLayout.Single(tokens.Length, start), _state, new ForwardRequest { LogitsRows = rows }, Cache);
        _state.Normed.Span.CopyTo(_hidden.AsSpan(start * d, tokens.Length * d));
        foreach (var t in tokens) _tokens.Add(t);
    }

    /// <summary>Forgets positions from <paramref name="length"/> on (rejected draft tokens, an edited conversation).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"Cannot truncate {Length} positions to {length}.");
        Cache.Truncate(length);
        _tokens.RemoveRange(length, _tokens.Count - length);
        // MTP row i needs token i + 1, so rows from length − 1 on are no longer valid.
        int keep = Math.Max(0, Math.Min(_mtpLength, length - 1));
        if (_mtpCache is not null && keep < _mtpLength) _mtpCache.Truncate(keep);
        _mtpLength = keep;
    }

    public void Reset() => Truncate(0);

    /// <summary>
    /// The MTP module's logits for the token after <paramref name="nextToken"/> (spec §9.4): the draft for position
    /// Length + 1, given that <paramref name="nextToken"/> will be at position Length. Brings the MTP cache up to date
    /// first (rows for every cached position). Valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Draft(int nextToken)
    {
        if (!HasMtp) throw new InvalidInputException("This model has no MTP module to draft with (num_nextn_predict_layers = 0).");
        if (Length == 0) throw new InvalidOperationException("Drafting needs at least one token in the cache.");
        var c = Model.Config;
        int d = c.HiddenSize;
        _mtpCache ??= new LatentKvCache(1, ContextLength, c.KvLoraRank, c.QkRopeHeadDim);
        int start = _mtpLength, rows = Length - start;
        if (_draftTokens.Length < rows) _draftTokens = new int[rows];
        var next = _draftTokens.AsSpan(0, rows);
        for (int i = 0; i < rows; i++) next[i] = start + i + 1 < Length ? _tokens[start + i + 1] : nextToken;
        _ctx.Arena.Reset();
        var previous = _ctx.Arena.AllocateUninitialized(new TensorShape(rows, d));
        _hidden.AsSpan(start * d, rows * d).CopyTo(previous.Span);
        var mtpState = _state.Mtp[0];
        Model.Mtp[0].Run(_ctx, previous, next, BatchLayout.Single(rows, start), mtpState, _mtpCache, 0, lastRowOnly: true);
        _mtpCache.Length = start + rows;
        _mtpLength = start + rows;
        mtpState.Logits.Row(0).CopyTo(_lastLogits);
        return _lastLogits;
    }

    /// <summary>Makes the cache hold exactly <paramref name="prompt"/>'s prefix that it shares with what it holds, and returns that length (prompt caching across chat turns).</summary>
    public int KeepCommonPrefix(ReadOnlySpan<int> prompt)
    {
        int common = 0;
        while (common < Length && common < prompt.Length && _tokens[common] == prompt[common]) common++;
        if (common == prompt.Length && common > 0) common--;   // keep one token to compute fresh logits from
        Truncate(common);
        return common;
    }
}
