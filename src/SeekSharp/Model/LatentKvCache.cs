using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// The absorbed-MLA cache (architecture.md §4.6): per layer and position, the normalised latent c (kv_lora_rank values) and the
/// rotated shared key k^R (qk_rope_head_dim values); nothing per head. Sized for the requested context, never for the
/// model's maximum.
/// </summary>
public sealed class LatentKvCache
{
    private readonly float[][] _latent;   // per layer [Capacity, LatentDim]
    private readonly float[][] _rope;     // per layer [Capacity, RopeDim]
    private int _length;

    public int Layers { get; }
    public int Capacity { get; }
    public int LatentDim { get; }
    public int RopeDim { get; }

    /// <summary>Positions [0, Length) hold valid entries.</summary>
    public int Length
    {
        get => _length;
        set
        {
            if ((uint)value > (uint)Capacity) throw new ArgumentOutOfRangeException(nameof(value), $"Cache length {value} is outside [0, {Capacity}].");
            _length = value;
        }
    }

    public LatentKvCache(int layers, int capacity, int latentDim, int ropeDim)
    {
        if (layers <= 0 || capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), "A cache needs at least one layer and one position.");
        (Layers, Capacity, LatentDim, RopeDim) = (layers, capacity, latentDim, ropeDim);
        _latent = new float[layers][];
        _rope = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _latent[l] = new float[checked(capacity * latentDim)];
            _rope[l] = new float[checked(capacity * ropeDim)];
        }
    }

    /// <summary>Bytes held: layers × capacity × (d_c + d_r) × 4.</summary>
    public long Bytes => (long)Layers * Capacity * (LatentDim + RopeDim) * sizeof(float);

    /// <summary>c for layer <paramref name="layer"/>: [Capacity, LatentDim].</summary>
    public Tensor Latent(int layer) => new(_latent[layer], new TensorShape(Capacity, LatentDim));

    /// <summary>k^R for layer <paramref name="layer"/>: [Capacity, RopeDim].</summary>
    public Tensor RopeKey(int layer) => new(_rope[layer], new TensorShape(Capacity, RopeDim));

    /// <summary>
    /// Makes this cache hold the first <paramref name="length"/> positions of <paramref name="source"/> (a sequence forked
    /// from a cached prefix: (d_c + d_r) floats per layer and position are copied instead of recomputed).
    /// </summary>
    public void CopyPrefixFrom(LatentKvCache source, int length)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Layers != Layers || source.LatentDim != LatentDim || source.RopeDim != RopeDim)
            throw new ArgumentException($"A cache of {source.Layers} layers × ({source.LatentDim} + {source.RopeDim}) cannot fill one of {Layers} × ({LatentDim} + {RopeDim}).");
        if (length < 0 || length > source.Length) throw new ArgumentOutOfRangeException(nameof(length), $"The source holds {source.Length} positions, not {length}.");
        if (length > Capacity) throw new ContextFullException(Capacity, length);
        for (int l = 0; l < Layers; l++)
        {
            source._latent[l].AsSpan(0, length * LatentDim).CopyTo(_latent[l]);
            source._rope[l].AsSpan(0, length * RopeDim).CopyTo(_rope[l]);
        }
        _length = length;
    }

    /// <summary>Forgets positions from <paramref name="length"/> on (rejected speculative tokens, a chat reset).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > _length) throw new ArgumentOutOfRangeException(nameof(length), $"Cannot truncate a cache of {_length} to {length}.");
        _length = length;
    }
}
