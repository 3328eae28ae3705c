using SeekSharp.Formats.Gguf;

namespace SeekSharp.Model.Gguf;

/// <summary>
/// The general.* and deepseek2.* metadata keys llama.cpp reads (docs/gguf.md §Metadata), made from a
/// <see cref="ModelConfig"/> and read back into one. The exporter also stores the whole config.json under
/// <see cref="ConfigKey"/>, so that SeekSharp-only fields (YaRN betas, top-k method, ...) survive a round trip.
/// </summary>
public static class DeepSeek2Metadata
{
    public const string Architecture = "deepseek2";
    public const string ConfigKey = "seeksharp.config";
    private const string A = Architecture + ".";

    /// <summary>llama.cpp's general.file_type for a file whose big matrices are <paramref name="type"/>.</summary>
    public static uint FileType(GgufTensorType type) => type switch
    {
        GgufTensorType.F32 => 0,
        GgufTensorType.F16 => 1,
        GgufTensorType.Q4_0 => 2,
        GgufTensorType.Q8_0 => 7,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>
    /// What llama.cpp will make of an export of <paramref name="c"/> (empty when nothing): its loader takes a deepseek2
    /// model of 26 or 27 blocks (or 48 with a 128256 vocabulary) for DeepSeek-V2-Lite and then ignores q_lora_rank and
    /// asks for <c>attn_q</c>, which a model with q compression does not have; and builds that do not know deepseek2's
    /// MTP layer (LLamaSharp 0.30.0's among them) count the nextn tensors as unexpected and refuse the file.
    /// </summary>
    public static IReadOnlyList<string> LlamaCppCaveats(ModelConfig c, bool mtp)
    {
        var caveats = new List<string>();
        int blocks = c.NumHiddenLayers + (mtp ? c.MtpDepth : 0);
        static bool Lite(int layers, int vocab) => layers is 26 or 27 || (layers == 48 && vocab == 128256);
        if (c.QLoraRank is not null && (Lite(blocks, c.VocabSize) || Lite(c.NumHiddenLayers, c.VocabSize)))
            caveats.Add($"llama.cpp takes a deepseek2 model of {blocks} blocks for DeepSeek-V2-Lite and ignores q_lora_rank, so it will not load this file (it asks for attn_q); SeekSharp will.");
        if (mtp)
            caveats.Add("llama.cpp builds without deepseek2 MTP support (LLamaSharp 0.30.0's among them) refuse the nextn tensors (\"wrong number of tensors\"); export without --mtp for those.");
        return caveats;
    }

    public static List<KeyValuePair<string, object>> Build(ModelConfig c, bool mtp, GgufTensorType type, string name)
    {
        var m = new List<KeyValuePair<string, object>>();
        void Add(string key, object value) => m.Add(new(key, value));
        Add("general.architecture", Architecture);
        Add("general.name", name);
        Add("general.file_type", FileType(type));
        if (type is GgufTensorType.Q8_0 or GgufTensorType.Q4_0) Add("general.quantization_version", 2u);
        Add(GgufWriter.AlignmentKey, (uint)GgufWriter.DefaultAlignment);
        int nextn = mtp ? c.MtpDepth : 0;
        Add(A + "block_count", (uint)(c.NumHiddenLayers + nextn));
        Add(A + "context_length", (uint)c.MaxPositionEmbeddings);
        Add(A + "embedding_length", (uint)c.HiddenSize);
        Add(A + "feed_forward_length", (uint)c.IntermediateSize);
        Add(A + "attention.head_count", (uint)c.NumAttentionHeads);
        Add(A + "attention.head_count_kv", 1u);
        Add(A + "attention.layer_norm_rms_epsilon", (float)c.RmsNormEps);
        // 0 without q compression: llama.cpp requires the key unless the model has 26 or 27 layers ("Lite"), and a
        // rank of 0 makes it use attn_q (the loader reads 0 as none).
        Add(A + "attention.q_lora_rank", (uint)(c.QLoraRank ?? 0));
        Add(A + "attention.kv_lora_rank", (uint)c.KvLoraRank);
        Add(A + "attention.key_length", (uint)(c.KvLoraRank + c.QkRopeHeadDim));
        Add(A + "attention.value_length", (uint)c.KvLoraRank);
        Add(A + "attention.key_length_mla", (uint)c.QkHeadDim);
        Add(A + "attention.value_length_mla", (uint)c.VHeadDim);
        Add(A + "rope.dimension_count", (uint)c.QkRopeHeadDim);
        Add(A + "rope.freq_base", (float)c.RopeTheta);
        if (c.RopeScaling is { } rs && (rs.Type ?? rs.RopeType) is { } kind)
        {
            Add(A + "rope.scaling.type", kind);
            Add(A + "rope.scaling.factor", (float)rs.Factor);
            Add(A + "rope.scaling.original_context_length", (uint)rs.OriginalMaxPositionEmbeddings);
            Add(A + "rope.scaling.yarn_log_multiplier", (float)(0.1 * (rs.MscaleAllDim ?? 0)));
        }
        Add(A + "vocab_size", (uint)c.VocabSize);
        Add(A + "leading_dense_block_count", (uint)(c.HasMoe ? c.FirstKDenseReplace : c.NumHiddenLayers));
        if (c.HasMoe)
        {
            Add(A + "expert_count", (uint)c.NRoutedExperts!.Value);
            Add(A + "expert_used_count", (uint)(c.NumExpertsPerTok ?? 0));
            Add(A + "expert_shared_count", (uint)(c.NSharedExperts ?? 0));
            Add(A + "expert_feed_forward_length", (uint)c.MoeIntermediateSize);
            Add(A + "expert_weights_scale", (float)c.RoutedScalingFactor);
            Add(A + "expert_weights_norm", c.NormTopkProb);
            Add(A + "expert_gating_func", c.ScoringFunc == ScoringFunction.Sigmoid ? 2u : 1u);
            Add(A + "expert_group_count", (uint)c.ExpertGroups);
            Add(A + "expert_group_used_count", (uint)(c.TopkGroup ?? c.ExpertGroups));
        }
        if (nextn > 0) Add(A + "nextn_predict_layers", (uint)nextn);
        Add(ConfigKey, (c with { NumNextnPredictLayers = nextn, QuantizationConfig = null, TorchDtype = null }).ToJson());
        return m;
    }

    /// <summary>
    /// The model config of a deepseek2 GGUF: the stored config.json when the file has one (checked against the
    /// deepseek2 keys), else one rebuilt from those keys. Problems are <see cref="CheckpointException"/>s naming the key.
    /// </summary>
    public static ModelConfig ReadConfig(GgufFile f)
    {
        string arch = f.Get<string>("general.architecture");
        if (arch != Architecture) throw new CheckpointException($"{f.Path}: general.architecture is '{arch}'; SeekSharp loads '{Architecture}'.");
        // Every count and size becomes an int: one past int's range would wrap negative.
        uint Small(string key, uint u) => u <= int.MaxValue ? u : throw new CheckpointException($"{f.Path}: metadata '{A + key}' is {u}, more than 2^31 - 1.");
        uint U(string key) => Small(key, f.Get<uint>(A + key));
        uint? Opt(string key) => f.Metadata.TryGetValue(A + key, out var v) ? v is uint u ? Small(key, u) : throw new CheckpointException($"{f.Path}: metadata '{A + key}' is a {v.GetType().Name}, expected UInt32") : null;
        float? OptF(string key) => f.Metadata.TryGetValue(A + key, out var v) ? v is float x ? x : throw new CheckpointException($"{f.Path}: metadata '{A + key}' is a {v.GetType().Name}, expected Single") : null;
        int nextn = (int)(Opt("nextn_predict_layers") ?? 0);
        int blocks = (int)U("block_count");
        if (nextn > blocks) throw new CheckpointException($"{f.Path}: {A}nextn_predict_layers ({nextn}) exceeds {A}block_count ({blocks}).");
        ModelConfig config;
        if (f.Find<string>(ConfigKey) is { } json)
        {
            try { config = ModelConfig.Parse(json, $"{f.Path} ({ConfigKey})"); }
            catch (ConfigException e) { throw new CheckpointException($"{f.Path}: {ConfigKey}: {e.Message}", e); }
            void Same(string key, long expected)
            {
                if (U(key) != expected) throw new CheckpointException($"{f.Path}: {A}{key} is {U(key)} but {ConfigKey} says {expected}.");
            }
            Same("block_count", config.NumHiddenLayers + config.MtpDepth);
            Same("embedding_length", config.HiddenSize);
            Same("attention.head_count", config.NumAttentionHeads);
            Same("attention.kv_lora_rank", config.KvLoraRank);
            return config;
        }
        uint experts = Opt("expert_count") ?? 0;
        // Files converted before llama.cpp absorbed MLA (~04/2025) lack the *_mla keys: their key_length/value_length are
        // the real head sizes (not the cached latent row) and kv_b is the unsplit attn_kv_b.
        uint keyMla = Opt("attention.key_length_mla") ?? Opt("attention.key_length")
            ?? throw new CheckpointException($"{f.Path}: metadata '{A}attention.key_length_mla' (or legacy '{A}attention.key_length') is missing.");
        uint valueMla = Opt("attention.value_length_mla") ?? Opt("attention.value_length")
            ?? throw new CheckpointException($"{f.Path}: metadata '{A}attention.value_length_mla' (or legacy '{A}attention.value_length') is missing.");
        uint rope = Opt("rope.dimension_count") ?? throw new CheckpointException($"{f.Path}: metadata '{A}rope.dimension_count' is missing.");
        RopeScaling? scaling = null;
        if (f.Metadata.TryGetValue(A + "rope.scaling.type", out var st) && st is string type && type != "none")
        {
            double mscale = (OptF("rope.scaling.yarn_log_multiplier") ?? 0) / 0.1;
            scaling = new RopeScaling
            {
                Type = type,
                Factor = OptF("rope.scaling.factor") ?? 1,
                OriginalMaxPositionEmbeddings = (int)(Opt("rope.scaling.original_context_length") ?? U("context_length")),
                Mscale = Math.Round(mscale, 6),
                MscaleAllDim = Math.Round(mscale, 6),
            };
        }
        var vocab = f.TryGetTensor("token_embd.weight", out var embd) && embd.Dims.Length == 2 ? (int)embd.Dims[1] : (int)U("vocab_size");
        bool bias = f.Tensors.Any(t => t.Name.EndsWith(".exp_probs_b.bias", StringComparison.Ordinal));
        uint groups = Opt("expert_group_count") ?? 1;
        config = new ModelConfig
        {
            Architectures = ["DeepseekV3ForCausalLM"],
            ModelType = "deepseek_v3",
            VocabSize = vocab,
            HiddenSize = (int)U("embedding_length"),
            IntermediateSize = (int)(Opt("feed_forward_length") ?? 0),
            MoeIntermediateSize = (int)(Opt("expert_feed_forward_length") ?? 0),
            NumHiddenLayers = blocks - nextn,
            FirstKDenseReplace = (int)(Opt("leading_dense_block_count") ?? 0),
            NumAttentionHeads = (int)U("attention.head_count"),
            NumKeyValueHeads = (int)U("attention.head_count"),
            NRoutedExperts = experts > 0 ? (int)experts : null,
            NSharedExperts = experts > 0 ? (int)(Opt("expert_shared_count") ?? 0) : null,
            NumExpertsPerTok = experts > 0 ? (int)U("expert_used_count") : null,
            NGroup = experts > 0 ? (int)groups : null,
            TopkGroup = experts > 0 ? (int)(Opt("expert_group_used_count") ?? groups) : null,
            TopkMethodName = bias ? "noaux_tc" : groups > 1 ? "group_limited_greedy" : "greedy",
            ScoringFuncName = (Opt("expert_gating_func") ?? 1) == 2 ? "sigmoid" : "softmax",
            RoutedScalingFactor = OptF("expert_weights_scale") is { } s && s != 0 ? s : 1.0,
            NormTopkProb = f.Metadata.TryGetValue(A + "expert_weights_norm", out var norm) && norm is true,
            // The tensors decide, as llama.cpp's loader does for "Lite" block counts, where it ignores the key.
            QLoraRank = f.TryGetTensor("blk.0.attn_q.weight", out _) ? null : Opt("attention.q_lora_rank") is { } q and > 0 ? (int)q : null,
            KvLoraRank = (int)U("attention.kv_lora_rank"),
            QkNopeHeadDim = (int)(keyMla - rope),
            QkRopeHeadDim = (int)rope,
            VHeadDim = (int)valueMla,
            RopeTheta = OptF("rope.freq_base") ?? 10000,
            RopeScaling = scaling,
            MaxPositionEmbeddings = (int)U("context_length"),
            RmsNormEps = Math.Round(f.Get<float>(A + "attention.layer_norm_rms_epsilon"), 9),
            NumNextnPredictLayers = nextn,
            BosTokenId = f.Metadata.TryGetValue("tokenizer.ggml.bos_token_id", out var b) && b is uint bos ? (int)bos : null,
            EosTokenId = f.Metadata.TryGetValue("tokenizer.ggml.eos_token_id", out var eosValue) && eosValue is uint eos ? (int)eos : null,
        };
        try { config.Validate($"{f.Path} (deepseek2 metadata)"); }
        catch (ConfigException ex) { throw new CheckpointException(ex.Message, ex); }
        return config;
    }
}
