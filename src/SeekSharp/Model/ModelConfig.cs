using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SeekSharp.Model;

/// <summary>How router affinities are computed from the gate logits (docs/architecture.md §7 step 2).</summary>
public enum ScoringFunction { Sigmoid, Softmax }

/// <summary>How experts are chosen (docs/architecture.md §7 steps 3–5).</summary>
public enum TopKMethod
{
    /// <summary>Top-k over all experts (DeepSeek-V2-Lite).</summary>
    Greedy,
    /// <summary>Keep the topk_group groups with the largest maximum affinity, then top-k (DeepSeek-V2).</summary>
    GroupLimitedGreedy,
    /// <summary>Bias-corrected selection; groups ranked by the sum of their two best biased scores (DeepSeek-V3).</summary>
    NoAuxTc,
}

/// <summary>
/// A Hugging Face DeepSeek-V2/V3 <c>config.json</c>, one property per field (docs/architecture.md §1), validated when loaded.
/// Unknown fields are kept and written back on save.
/// </summary>
public sealed record ModelConfig
{
    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    [JsonPropertyName("model_type")] public string? ModelType { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("moe_intermediate_size")] public int MoeIntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("first_k_dense_replace")] public int FirstKDenseReplace { get; init; }
    [JsonPropertyName("moe_layer_freq")] public int MoeLayerFreq { get; init; } = 1;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    /// <summary>Meaningless for MLA (every head has its own keys from the shared latent); kept for round-trips.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("n_routed_experts")] public int? NRoutedExperts { get; init; }
    [JsonPropertyName("n_shared_experts")] public int? NSharedExperts { get; init; }
    [JsonPropertyName("num_experts_per_tok")] public int? NumExpertsPerTok { get; init; }
    [JsonPropertyName("n_group")] public int? NGroup { get; init; }
    [JsonPropertyName("topk_group")] public int? TopkGroup { get; init; }
    [JsonPropertyName("topk_method")] public string? TopkMethodName { get; init; }
    [JsonPropertyName("scoring_func")] public string? ScoringFuncName { get; init; }
    [JsonPropertyName("routed_scaling_factor")] public double RoutedScalingFactor { get; init; } = 1.0;
    [JsonPropertyName("norm_topk_prob")] public bool NormTopkProb { get; init; }
    /// <summary>Null or 0: no query compression (a single <c>q_proj</c>, as in V2-Lite).</summary>
    [JsonPropertyName("q_lora_rank")] public int? QLoraRank { get; init; }
    [JsonPropertyName("kv_lora_rank")] public int KvLoraRank { get; init; }
    [JsonPropertyName("qk_nope_head_dim")] public int QkNopeHeadDim { get; init; }
    [JsonPropertyName("qk_rope_head_dim")] public int QkRopeHeadDim { get; init; }
    [JsonPropertyName("v_head_dim")] public int VHeadDim { get; init; }
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000;
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 4096;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("num_nextn_predict_layers")] public int NumNextnPredictLayers { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; }
    [JsonPropertyName("aux_loss_alpha")] public double? AuxLossAlpha { get; init; }
    [JsonPropertyName("seq_aux")] public bool? SeqAux { get; init; }
    [JsonPropertyName("initializer_range")] public double? InitializerRange { get; init; }
    [JsonPropertyName("ep_size")] public int? EpSize { get; init; }
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }
    [JsonPropertyName("quantization_config")] public QuantizationConfig? QuantizationConfig { get; init; }

    /// <summary>Fields this record does not model (auto_map, use_cache, …), preserved for saving.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    // ------------------------------------------------------------------ derived

    /// <summary>d_qk = d_n + d_r.</summary>
    [JsonIgnore] public int QkHeadDim => QkNopeHeadDim + QkRopeHeadDim;
    [JsonIgnore] public bool HasQLora => QLoraRank is > 0;
    [JsonIgnore] public bool HasMoe => NRoutedExperts is > 0;
    [JsonIgnore] public ScoringFunction ScoringFunc => (ScoringFuncName ?? "softmax") == "sigmoid" ? ScoringFunction.Sigmoid : ScoringFunction.Softmax;
    [JsonIgnore]
    public TopKMethod TopkMethod => (TopkMethodName ?? "greedy") switch
    {
        "noaux_tc" => TopKMethod.NoAuxTc,
        "group_limited_greedy" => TopKMethod.GroupLimitedGreedy,
        _ => TopKMethod.Greedy,
    };
    /// <summary>Whether MoE layers carry <c>e_score_correction_bias</c> (the auxiliary-loss-free bias).</summary>
    [JsonIgnore] public bool HasExpertBias => TopkMethod == TopKMethod.NoAuxTc;
    [JsonIgnore] public int ExpertGroups => NGroup ?? 1;
    [JsonIgnore] public int ExpertsPerGroup => (NRoutedExperts ?? 0) / Math.Max(1, ExpertGroups);
    [JsonIgnore] public int SharedExpertWidth => (NSharedExperts ?? 0) * MoeIntermediateSize;
    /// <summary>Number of MTP modules (0 when the checkpoint has none).</summary>
    [JsonIgnore] public int MtpDepth => NumNextnPredictLayers;

    /// <summary>Layer ℓ (0-based; MTP layers are numbered after the main ones) uses the MoE FFN.</summary>
    public bool IsMoeLayer(int layer) =>
        HasMoe && layer >= FirstKDenseReplace && layer % Math.Max(1, MoeLayerFreq) == 0;

    // ------------------------------------------------------------------ loading and saving

    private static readonly JsonSerializerOptions ReadOptions = new()
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Reads and validates a config.json (or its folder); every problem is a <see cref="ConfigException"/> naming the
    /// field. A GGUF file gives the config its metadata describes (<see cref="Gguf.DeepSeek2Metadata.ReadConfig"/>).
    /// </summary>
    public static ModelConfig Load(string path)
    {
        if (ModelPath.IsGguf(path))
        {
            using var gguf = Formats.Gguf.GgufFile.Open(path);
            return Gguf.DeepSeek2Metadata.ReadConfig(gguf);
        }
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path)) throw new ConfigException($"Config file not found: {path}");
        return Parse(File.ReadAllText(path), path);
    }

    public static ModelConfig Parse(string json, string source = "config.json")
    {
        ModelConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<ModelConfig>(json, ReadOptions);
        }
        catch (JsonException e)
        {
            string where = e.Path is { Length: > 0 } p ? $" at {p}" : "";
            throw new ConfigException($"{source}: not a valid config{where}: {e.Message}", e);
        }
        if (config is null) throw new ConfigException($"{source}: the file holds no JSON object.");
        config.Validate(source);
        return config;
    }

    public string ToJson() => JsonSerializer.Serialize(this, WriteOptions);

    /// <summary>Writes config.json into <paramref name="directory"/> (temporary name, then rename).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "config.json");
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, ToJson() + "\n");
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Throws a <see cref="ConfigException"/> for the first inconsistent or unsupported value.</summary>
    /// <summary>The most decoder layers, and separately MTP modules, a config may declare: far past any real model (V3: 61 + 1).</summary>
    public const int MaxLayers = 4096;

    public void Validate(string source = "config")
    {
        void Fail(string message) => throw new ConfigException($"{source}: {message}");
        void Positive(string name, long value) { if (value <= 0) Fail($"{name} must be positive, got {value}."); }

        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("kv_lora_rank", KvLoraRank);
        Positive("qk_nope_head_dim", QkNopeHeadDim);
        Positive("qk_rope_head_dim", QkRopeHeadDim);
        Positive("v_head_dim", VHeadDim);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        if (QkRopeHeadDim % 2 != 0) Fail($"qk_rope_head_dim must be even (RoPE rotates pairs), got {QkRopeHeadDim}.");
        if (QLoraRank is < 0) Fail($"q_lora_rank must be null, 0 or positive, got {QLoraRank}.");
        if (HiddenAct != "silu") Fail($"hidden_act '{HiddenAct}' is not supported (DeepSeek uses 'silu').");
        // JSON numbers past double's range (1e309) read as infinity; none of these may be infinite (or NaN).
        void Finite(string name, double? value) { if (value is { } v && !double.IsFinite(v)) Fail($"{name} must be a finite number, got {v}."); }
        Finite("rms_norm_eps", RmsNormEps);
        Finite("rope_theta", RopeTheta);
        Finite("routed_scaling_factor", RoutedScalingFactor);
        Finite("aux_loss_alpha", AuxLossAlpha);
        Finite("initializer_range", InitializerRange);
        if (RopeScaling is { } scaling)
        {
            Finite("rope_scaling.factor", scaling.Factor);
            Finite("rope_scaling.beta_fast", scaling.BetaFast);
            Finite("rope_scaling.beta_slow", scaling.BetaSlow);
            Finite("rope_scaling.mscale", scaling.Mscale);
            Finite("rope_scaling.mscale_all_dim", scaling.MscaleAllDim);
        }
        if (!(RmsNormEps > 0)) Fail($"rms_norm_eps must be positive, got {RmsNormEps}.");
        if (!(RopeTheta > 0)) Fail($"rope_theta must be positive, got {RopeTheta}.");
        if (NumNextnPredictLayers < 0) Fail($"num_nextn_predict_layers must be 0 or more, got {NumNextnPredictLayers}.");
        // Layer counts far past any real model (V3 has 61 + 1) would overflow the loops and tables sized by them.
        if (NumHiddenLayers > MaxLayers || NumNextnPredictLayers > MaxLayers)
            Fail($"num_hidden_layers ({NumHiddenLayers}) and num_nextn_predict_layers ({NumNextnPredictLayers}) must each be at most {MaxLayers}.");
        if (FirstKDenseReplace < 0) Fail($"first_k_dense_replace must be 0 or more, got {FirstKDenseReplace}.");
        if (MoeLayerFreq <= 0) Fail($"moe_layer_freq must be positive, got {MoeLayerFreq}.");
        if (AttentionBias) Fail("attention_bias = true is not supported: DeepSeek's projections have no bias.");
        if (TieWordEmbeddings) Fail("tie_word_embeddings = true is not supported: DeepSeek's embedding and head are separate.");

        bool anyDense = Enumerable.Range(0, NumHiddenLayers + NumNextnPredictLayers).Any(l => !IsMoeLayer(l));
        if (anyDense) Positive("intermediate_size", IntermediateSize);

        if (ScoringFuncName is not null and not "sigmoid" and not "softmax")
            Fail($"scoring_func '{ScoringFuncName}' is not supported (sigmoid or softmax).");
        if (TopkMethodName is not null and not "greedy" and not "group_limited_greedy" and not "noaux_tc")
            Fail($"topk_method '{TopkMethodName}' is not supported (greedy, group_limited_greedy or noaux_tc).");
        if (HasMoe)
        {
            int experts = NRoutedExperts!.Value;
            Positive("moe_intermediate_size", MoeIntermediateSize);
            if (NumExpertsPerTok is not > 0) Fail("num_experts_per_tok must be positive when n_routed_experts is set.");
            if (NumExpertsPerTok > experts) Fail($"num_experts_per_tok ({NumExpertsPerTok}) exceeds n_routed_experts ({experts}).");
            if (NSharedExperts is < 0) Fail($"n_shared_experts must be 0 or more, got {NSharedExperts}.");
            int groups = ExpertGroups;
            if (groups <= 0) Fail($"n_group must be positive, got {groups}.");
            if (experts % groups != 0) Fail($"n_routed_experts ({experts}) is not divisible by n_group ({groups}).");
            int keep = TopkGroup ?? groups;
            if (keep <= 0 || keep > groups) Fail($"topk_group ({keep}) must be between 1 and n_group ({groups}).");
            if (TopkMethod != TopKMethod.Greedy && groups > 1 && NumExpertsPerTok > keep * (experts / groups))
                Fail($"num_experts_per_tok ({NumExpertsPerTok}) exceeds the experts in the kept groups ({keep} × {experts / groups}).");
            if (!(RoutedScalingFactor > 0)) Fail($"routed_scaling_factor must be positive, got {RoutedScalingFactor}.");
        }
        else if (NumExpertsPerTok is > 0 && NRoutedExperts is not null)
            Fail($"n_routed_experts must be positive, got {NRoutedExperts}.");

        if (RopeScaling is { } rs)
        {
            if (rs.Kind is not "yarn" and not "default")
                Fail($"rope_scaling type '{rs.Kind}' is not supported (DeepSeek uses 'yarn').");
            if (rs.Kind == "yarn")
            {
                if (!(rs.Factor >= 1)) Fail($"rope_scaling.factor must be at least 1, got {rs.Factor}.");
                if (rs.OriginalMaxPositionEmbeddings <= 0) Fail("rope_scaling.original_max_position_embeddings must be positive.");
                if (!(rs.BetaFast > 0) || !(rs.BetaSlow > 0)) Fail("rope_scaling.beta_fast and beta_slow must be positive.");
            }
        }

        if (QuantizationConfig is { } q)
        {
            if (q.QuantMethod is not null and not "fp8" and not "seeksharp") Fail($"quantization_config.quant_method '{q.QuantMethod}' is not supported (fp8, seeksharp).");
            if (q.Fmt is not null and not "e4m3") Fail($"quantization_config.fmt '{q.Fmt}' is not supported (e4m3).");
            if (q.QuantMethod == "seeksharp" && q.WeightType is not ("q8_0" or "q4_0"))
                Fail($"quantization_config.weight_type '{q.WeightType}' is not supported (q8_0 or q4_0).");
            if (q.WeightBlockSize is { } b && (b.Length != 2 || b[0] <= 0 || b[1] <= 0))
                Fail("quantization_config.weight_block_size must be two positive integers.");
        }
    }
}
