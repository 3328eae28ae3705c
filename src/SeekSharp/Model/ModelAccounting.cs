namespace SeekSharp.Model;

/// <summary>Parameter and memory counts of a config, computed from <see cref="CheckpointLayout"/> without allocating weights.</summary>
public sealed record ModelAccounting
{
    /// <summary>Main model: embedding, decoder layers, final norm, head (no MTP).</summary>
    public long MainParameters { get; init; }
    /// <summary>Parameters one token touches in the main model: everything except the routed experts it is not sent to.
    /// The whole embedding and head count, as in DeepSeek's "37B activated".</summary>
    public long ActivatedParameters { get; init; }
    /// <summary>Activated, counting only one embedding row (the embedding is a lookup, not a matmul).</summary>
    public long ActivatedParametersExcludingEmbedding { get; init; }
    /// <summary>MTP modules, without the embedding and head they share with the main model.</summary>
    public long MtpUniqueParameters { get; init; }
    /// <summary>Every tensor DeepSeek's files hold, the MTP copies of the embedding and head included.</summary>
    public long CheckpointParameters { get; init; }
    public long EmbeddingParameters { get; init; }
    public long HeadParameters { get; init; }
    public long RoutedExpertParameters { get; init; }
    public int TensorCount { get; init; }
    /// <summary>Tensors in an FP8 release: <see cref="TensorCount"/> plus one weight_scale_inv per quantised weight.</summary>
    public int Fp8TensorCount { get; init; }
    public int DenseLayers { get; init; }
    public int MoeLayers { get; init; }
    /// <summary>Values cached per token per layer: absorbed MLA keeps the latent and the rotary key, d_c + d_r.</summary>
    public int LatentCacheValuesPerTokenPerLayer { get; init; }
    /// <summary>Values per token per layer if full keys and values were cached: n_h·(d_qk + d_v).</summary>
    public int NaiveCacheValuesPerTokenPerLayer { get; init; }

    public long LatentCacheBytesPerToken(int bytesPerValue = 2, bool includeMtp = false) =>
        (long)LatentCacheValuesPerTokenPerLayer * bytesPerValue * Layers(includeMtp);
    public long NaiveCacheBytesPerToken(int bytesPerValue = 2, bool includeMtp = false) =>
        (long)NaiveCacheValuesPerTokenPerLayer * bytesPerValue * Layers(includeMtp);

    private int _mainLayers, _mtpLayers;
    private int Layers(bool includeMtp) => _mainLayers + (includeMtp ? _mtpLayers : 0);

    public static ModelAccounting For(ModelConfig c)
    {
        long main = 0, routed = 0, mtpUnique = 0, checkpoint = 0;
        int tensors = 0, scales = 0;
        foreach (var p in CheckpointLayout.MainModel(c))
        {
            main += p.ElementCount;
            if (p.Name.Contains(".mlp.experts.", StringComparison.Ordinal)) routed += p.ElementCount;
            tensors++;
            if (CheckpointLayout.IsFp8Quantized(p)) scales++;
        }
        for (int k = 0; k < c.MtpDepth; k++)
            foreach (var p in CheckpointLayout.MtpModule(c, k, includeSharedCopies: false))
            {
                mtpUnique += p.ElementCount;
                tensors++;
                if (CheckpointLayout.IsFp8Quantized(p)) scales++;
            }
        long embedding = (long)c.VocabSize * c.HiddenSize;
        checkpoint = main + mtpUnique + 2L * embedding * c.MtpDepth;
        tensors += 2 * c.MtpDepth;
        int moeLayers = Enumerable.Range(0, c.NumHiddenLayers).Count(c.IsMoeLayer);
        long perExpert = 3L * c.HiddenSize * c.MoeIntermediateSize;
        long unusedRouted = c.HasMoe ? (long)moeLayers * (c.NRoutedExperts!.Value - c.NumExpertsPerTok!.Value) * perExpert : 0;
        long activated = main - unusedRouted;
        return new ModelAccounting
        {
            MainParameters = main,
            ActivatedParameters = activated,
            ActivatedParametersExcludingEmbedding = activated - embedding + c.HiddenSize,
            MtpUniqueParameters = mtpUnique,
            CheckpointParameters = checkpoint,
            EmbeddingParameters = embedding,
            HeadParameters = embedding,
            RoutedExpertParameters = routed,
            TensorCount = tensors,
            Fp8TensorCount = tensors + scales,
            DenseLayers = c.NumHiddenLayers - moeLayers,
            MoeLayers = moeLayers,
            LatentCacheValuesPerTokenPerLayer = c.KvLoraRank + c.QkRopeHeadDim,
            NaiveCacheValuesPerTokenPerLayer = c.NumAttentionHeads * (c.QkHeadDim + c.VHeadDim),
            _mainLayers = c.NumHiddenLayers,
            _mtpLayers = c.MtpDepth,
        };
    }
}
