namespace SeekSharp.Model;

/// <summary>
/// The one table that maps a config to its Hugging Face tensor names and shapes (architecture.md §13, §9.3). The model is built
/// from it, the loader checks files against it, the saver writes it, and the accounting counts it, so a name is
/// spelled in exactly one place.
/// </summary>
public static class CheckpointLayout
{
    public const string Embed = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string Head = "lm_head.weight";

    public static string LayerPrefix(int layer) => $"model.layers.{layer}.";

    // Names inside a decoder layer (after the layer prefix).
    public const string InputNorm = "input_layernorm.weight";
    public const string PostAttentionNorm = "post_attention_layernorm.weight";
    public const string QProj = "self_attn.q_proj.weight";
    public const string QAProj = "self_attn.q_a_proj.weight";
    public const string QANorm = "self_attn.q_a_layernorm.weight";
    public const string QBProj = "self_attn.q_b_proj.weight";
    public const string KvAProj = "self_attn.kv_a_proj_with_mqa.weight";
    public const string KvANorm = "self_attn.kv_a_layernorm.weight";
    public const string KvBProj = "self_attn.kv_b_proj.weight";
    public const string OProj = "self_attn.o_proj.weight";
    public const string DenseGate = "mlp.gate_proj.weight";
    public const string DenseUp = "mlp.up_proj.weight";
    public const string DenseDown = "mlp.down_proj.weight";
    public const string Router = "mlp.gate.weight";
    public const string RouterBias = "mlp.gate.e_score_correction_bias";
    public static string ExpertGate(int e) => $"mlp.experts.{e}.gate_proj.weight";
    public static string ExpertUp(int e) => $"mlp.experts.{e}.up_proj.weight";
    public static string ExpertDown(int e) => $"mlp.experts.{e}.down_proj.weight";
    public const string SharedGate = "mlp.shared_experts.gate_proj.weight";
    public const string SharedUp = "mlp.shared_experts.up_proj.weight";
    public const string SharedDown = "mlp.shared_experts.down_proj.weight";

    // MTP module extras (layer index num_hidden_layers + k).
    public const string MtpEmbed = "embed_tokens.weight";
    public const string MtpENorm = "enorm.weight";
    public const string MtpHNorm = "hnorm.weight";
    public const string MtpEhProj = "eh_proj.weight";
    public const string MtpHeadNorm = "shared_head.norm.weight";
    public const string MtpHead = "shared_head.head.weight";

    /// <summary>Every tensor of the main model, in checkpoint order (embedding, layers, final norm, head).</summary>
    public static IEnumerable<ParameterSpec> MainModel(ModelConfig c)
    {
        long v = c.VocabSize, d = c.HiddenSize;
        yield return new(Embed, [v, d], ParameterRole.Embedding);
        for (int l = 0; l < c.NumHiddenLayers; l++)
            foreach (var p in DecoderLayer(c, l)) yield return p;
        yield return new(FinalNorm, [d], ParameterRole.Norm);
        yield return new(Head, [v, d], ParameterRole.Matrix);
    }

    /// <summary>The tensors of MTP module <paramref name="k"/> (0-based), including the embedding and head copies that DeepSeek's files hold.</summary>
    public static IEnumerable<ParameterSpec> MtpModule(ModelConfig c, int k, bool includeSharedCopies = true)
    {
        int layer = c.NumHiddenLayers + k;
        string pre = LayerPrefix(layer);
        long v = c.VocabSize, d = c.HiddenSize;
        if (includeSharedCopies) yield return new(pre + MtpEmbed, [v, d], ParameterRole.Embedding);
        yield return new(pre + MtpENorm, [d], ParameterRole.Norm);
        yield return new(pre + MtpHNorm, [d], ParameterRole.Norm);
        yield return new(pre + MtpEhProj, [d, 2 * d], ParameterRole.Matrix);
        foreach (var p in DecoderLayer(c, layer)) yield return p;
        yield return new(pre + MtpHeadNorm, [d], ParameterRole.Norm);
        if (includeSharedCopies) yield return new(pre + MtpHead, [v, d], ParameterRole.Matrix);
    }

    /// <summary>The whole checkpoint: main model then every MTP module.</summary>
    public static IEnumerable<ParameterSpec> All(ModelConfig c)
    {
        foreach (var p in MainModel(c)) yield return p;
        for (int k = 0; k < c.MtpDepth; k++)
            foreach (var p in MtpModule(c, k)) yield return p;
    }

    /// <summary>
    /// Whether DeepSeek's FP8 release stores this tensor as F8_E4M3 with a <c>weight_scale_inv</c> companion (architecture.md §14):
    /// every attention and MLP projection; not the embeddings, head, router, norms, bias or the MTP-only projections.
    /// </summary>
    public static bool IsFp8Quantized(ParameterSpec p) =>
        p.Role == ParameterRole.Matrix && p.Name.StartsWith("model.layers.", StringComparison.Ordinal)
        && (p.Name.Contains(".self_attn.", StringComparison.Ordinal) || p.Name.EndsWith("_proj.weight", StringComparison.Ordinal))
        && !p.Name.EndsWith(MtpEhProj, StringComparison.Ordinal);

    /// <summary>
    /// The tensors of DeepSeek's release of this config, with the dtypes they have there: BF16, the expert bias F32, and,
    /// when config.json has an fp8 quantization_config (V3), F8_E4M3 projections each followed by its float32
    /// weight_scale_inv [ceil(out/block), ceil(in/block)].
    /// </summary>
    public static IEnumerable<(string Name, string DType, long[] Shape)> ReleaseLayout(ModelConfig c)
    {
        bool fp8 = c.QuantizationConfig?.QuantMethod == "fp8";
        int blockRows = c.QuantizationConfig?.WeightBlockSize?[0] ?? 128, blockCols = c.QuantizationConfig?.WeightBlockSize?[1] ?? 128;
        foreach (var p in All(c))
        {
            if (fp8 && IsFp8Quantized(p))
            {
                yield return (p.Name, "F8_E4M3", p.Shape);
                yield return (ScaleName(p.Name), "F32", [(p.Shape[0] + blockRows - 1) / blockRows, (p.Shape[1] + blockCols - 1) / blockCols]);
            }
            else
                yield return (p.Name, p.Role == ParameterRole.ExpertBias ? "F32" : "BF16", p.Shape);
        }
    }

    /// <summary>The companion scale tensor's name for an FP8 weight.</summary>
    public static string ScaleName(string weightName) => weightName + "_scale_inv";

    /// <summary>One decoder layer (attention, then the dense MLP or the MoE), names with the layer prefix.</summary>
    public static IEnumerable<ParameterSpec> DecoderLayer(ModelConfig c, int layer)
    {
        string pre = LayerPrefix(layer);
        long d = c.HiddenSize, nh = c.NumAttentionHeads;
        yield return new(pre + InputNorm, [d], ParameterRole.Norm);
        if (c.HasQLora)
        {
            long qr = c.QLoraRank!.Value;
            yield return new(pre + QAProj, [qr, d], ParameterRole.Matrix);
            yield return new(pre + QANorm, [qr], ParameterRole.Norm);
            yield return new(pre + QBProj, [nh * c.QkHeadDim, qr], ParameterRole.Matrix);
        }
        else
            yield return new(pre + QProj, [nh * c.QkHeadDim, d], ParameterRole.Matrix);
        yield return new(pre + KvAProj, [c.KvLoraRank + c.QkRopeHeadDim, d], ParameterRole.Matrix);
        yield return new(pre + KvANorm, [c.KvLoraRank], ParameterRole.Norm);
        yield return new(pre + KvBProj, [nh * (c.QkNopeHeadDim + c.VHeadDim), c.KvLoraRank], ParameterRole.Matrix);
        yield return new(pre + OProj, [d, nh * c.VHeadDim], ParameterRole.Matrix);
        yield return new(pre + PostAttentionNorm, [d], ParameterRole.Norm);
        if (!c.IsMoeLayer(layer))
        {
            long i = c.IntermediateSize;
            yield return new(pre + DenseGate, [i, d], ParameterRole.Matrix);
            yield return new(pre + DenseUp, [i, d], ParameterRole.Matrix);
            yield return new(pre + DenseDown, [d, i], ParameterRole.Matrix);
            yield break;
        }
        long e = c.NRoutedExperts!.Value, ie = c.MoeIntermediateSize;
        yield return new(pre + Router, [e, d], ParameterRole.Matrix);
        if (c.HasExpertBias) yield return new(pre + RouterBias, [e], ParameterRole.ExpertBias);
        for (int x = 0; x < e; x++)
        {
            yield return new(pre + ExpertGate(x), [ie, d], ParameterRole.Matrix);
            yield return new(pre + ExpertUp(x), [ie, d], ParameterRole.Matrix);
            yield return new(pre + ExpertDown(x), [d, ie], ParameterRole.Matrix);
        }
        if (c.SharedExpertWidth > 0)
        {
            long s = c.SharedExpertWidth;
            yield return new(pre + SharedGate, [s, d], ParameterRole.Matrix);
            yield return new(pre + SharedUp, [s, d], ParameterRole.Matrix);
            yield return new(pre + SharedDown, [d, s], ParameterRole.Matrix);
        }
    }
}
