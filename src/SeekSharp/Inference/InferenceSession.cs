using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Inference;

/// <summary>
/// One conversation on a <see cref="DecodeEngine"/>: a <see cref="Sequence"/> (its latent KV cache sized for
/// <see cref="ContextLength"/> positions, never the model's full 160K, and its MTP state) with the calls generation
/// needs. Prompts are prefilled in batched chunks; generated tokens are decoded one (or a verified few) at a time in
/// the absorbed form. Not thread-safe.
/// </summary>
public sealed class InferenceSession
{
    /// <summary>Prompt tokens processed per forward during prefill.</summary>
    public const int PrefillChunk = 512;

    private readonly DecodeEngine _engine;
    private readonly DecodeInput[] _input = new DecodeInput[1];
    private readonly DraftInput[] _draft = new DraftInput[1];
    private readonly int[] _chunk = new int[PrefillChunk];

    public DeepSeekModel Model => _engine.Model;
    public WorkerPool Pool => _engine.Pool;
    public int ContextLength { get; }
    public Sequence Sequence { get; }
    public LatentKvCache Cache => Sequence.Cache;

    /// <summary>Positions held in the cache.</summary>
    public int Length => Sequence.Length;
    public IReadOnlyList<int> Tokens => Sequence.Tokens;
    public bool HasMtp => _engine.HasMtp;

    public InferenceSession(DeepSeekModel model, int contextLength, WorkerPool pool) : this(new DecodeEngine(model, pool), contextLength) { }

    public InferenceSession(DecodeEngine engine, int contextLength)
    {
        _engine = engine;
        ContextLength = contextLength;
        Sequence = engine.NewSequence(contextLength);
    }

    /// <summary>The default context: 4096 positions, or the model's maximum if smaller.</summary>
    public static int DefaultContext(ModelConfig c) => Math.Min(4096, c.MaxPositionEmbeddings);

    /// <summary>Bytes of KV cache held (main, plus MTP once drafting started).</summary>
    public long CacheBytes => Sequence.CacheBytes;

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
            int count = Math.Min(PrefillChunk, tokens.Length - start);
            tokens.Slice(start, count).CopyTo(_chunk);
            _input[0] = new DecodeInput(Sequence, _chunk.AsMemory(0, count));
            _engine.Step(_input);
        }
        return _engine.Logits(0);
    }

    /// <summary>Appends a few tokens in one forward and returns every row's logits [n, V] (speculative verification), valid until the next call.</summary>
    public Tensor AppendAll(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty || tokens.Length > Mla.AbsorbedMaxRows) throw new InvalidInputException($"AppendAll takes 1 to {Mla.AbsorbedMaxRows} tokens.");
        CheckRoom(tokens.Length);
        tokens.CopyTo(_chunk);
        _input[0] = new DecodeInput(Sequence, _chunk.AsMemory(0, tokens.Length), AllLogits: true);
        _engine.Step(_input);
        return _engine.State.Logits;
    }

    private void CheckRoom(int count)
    {
        if (Length + count > ContextLength) throw new ContextFullException(ContextLength, Length + count);
    }

    /// <summary>Forgets positions from <paramref name="length"/> on (rejected draft tokens, an edited conversation).</summary>
    public void Truncate(int length) => Sequence.Truncate(length);

    public void Reset() => Truncate(0);

    /// <summary>
    /// The MTP module's logits for the token after <paramref name="nextToken"/> (architecture.md §9.4): the draft for position
    /// Length + 1, given that <paramref name="nextToken"/> will be at position Length. Valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Draft(int nextToken)
    {
        _draft[0] = new DraftInput(Sequence, nextToken);
        return _engine.Draft(_draft).Row(0);
    }

    /// <summary>Makes the cache hold exactly <paramref name="prompt"/>'s prefix that it shares with what it holds, and returns that length (prompt caching across chat turns).</summary>
    public int KeepCommonPrefix(ReadOnlySpan<int> prompt)
    {
        int common = 0;
        while (common < Length && common < prompt.Length && Tokens[common] == prompt[common]) common++;
        if (common == prompt.Length && common > 0) common--;   // keep one token to compute fresh logits from
        Truncate(common);
        return common;
    }
}
