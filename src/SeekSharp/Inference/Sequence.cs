using SeekSharp.Model;

namespace SeekSharp.Inference;

/// <summary>
/// One conversation's state in a <see cref="DecodeEngine"/>: its latent KV cache (layers × (kv_lora_rank + rope) floats
/// per position, sized for <see cref="Capacity"/> positions), the tokens it holds, and for a model with MTP the
/// post-norm hidden state of every position and the MTP module's own one-layer cache, which drafting reads and
/// extends. Only the engine changes it; callers read it and truncate it.
/// </summary>
public sealed class Sequence
{
    private readonly List<int> _tokens = new();

    internal Sequence(ModelConfig config, int capacity)
    {
        Capacity = capacity;
        Cache = new LatentKvCache(config.NumHiddenLayers, capacity, config.KvLoraRank, config.QkRopeHeadDim);
        if (config.MtpDepth > 0)
        {
            long floats = (long)capacity * config.HiddenSize;
            Hidden = new float[floats <= Array.MaxLength ? (int)floats : throw new InvalidInputException("The context is too long for this hidden size.")];
        }
    }

    /// <summary>Positions the caches were sized for.</summary>
    public int Capacity { get; }

    /// <summary>Positions held.</summary>
    public int Length => Cache.Length;

    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>The main model's latent cache.</summary>
    public LatentKvCache Cache { get; }

    /// <summary>The MTP module's cache (depth 1), made on the first draft.</summary>
    internal LatentKvCache? MtpCache { get; set; }

    /// <summary>[Capacity, d]: the post-final-norm hidden state of every cached position (MTP's input); null without MTP.</summary>
    internal float[]? Hidden { get; }

    /// <summary>MTP rows computed: row i pairs hidden state i with token i + 1.</summary>
    internal int MtpLength { get; set; }

    /// <summary>Bytes of cache held (main, and MTP once drafting started; not the hidden states).</summary>
    public long CacheBytes => Cache.Bytes + (MtpCache?.Bytes ?? 0);

    internal void AppendTokens(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens) _tokens.Add(t);
    }

    /// <summary>Forgets positions from <paramref name="length"/> on (rejected draft tokens, an edited conversation).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"Cannot truncate {Length} positions to {length}.");
        Cache.Truncate(length);
        _tokens.RemoveRange(length, _tokens.Count - length);
        // MTP row i needs token i + 1, so rows from length − 1 on are no longer valid.
        int keep = Math.Max(0, Math.Min(MtpLength, length - 1));
        if (MtpCache is not null && keep < MtpCache.Length) MtpCache.Truncate(keep);
        MtpLength = keep;
    }

    /// <summary>Makes this (empty) sequence hold the first <paramref name="length"/> positions of <paramref name="source"/>.</summary>
    internal void CopyPrefixFrom(Sequence source, int length, int hiddenSize)
    {
        if (length > source.Length) throw new ArgumentOutOfRangeException(nameof(length), $"The source holds {source.Length} positions, not {length}.");
        Cache.CopyPrefixFrom(source.Cache, length);
        _tokens.Clear();
        for (int i = 0; i < length; i++) _tokens.Add(source._tokens[i]);
        if (Hidden is not null && source.Hidden is not null)
            source.Hidden.AsSpan(0, length * hiddenSize).CopyTo(Hidden);
        int mtpRows = Math.Max(0, Math.Min(source.MtpLength, length - 1));
        if (source.MtpCache is not null && mtpRows > 0)
        {
            MtpCache ??= new LatentKvCache(1, Capacity, source.MtpCache.LatentDim, source.MtpCache.RopeDim);
            MtpCache.CopyPrefixFrom(source.MtpCache, mtpRows);
        }
        MtpLength = mtpRows;
    }
}
