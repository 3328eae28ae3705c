namespace SeekSharp.Model.Gguf;

/// <summary>
/// The one table between SeekSharp's checkpoint names (<see cref="CheckpointLayout"/>) and llama.cpp's deepseek2 GGUF
/// tensor names and layouts (docs/gguf.md): the exporter writes it and the GGUF loader reads it back.
/// </summary>
public static class DeepSeek2Layout
{
    /// <summary>
    /// Every GGUF tensor for <paramref name="config"/>: the main model, then (when <paramref name="mtp"/>) each MTP
    /// module as block num_hidden_layers + k with its <c>nextn.*</c> extras. <paramref name="sharedMtpCopies"/> says, for
    /// each module, whether its embedding and head are the main model's (then they are not written; llama.cpp falls back).
    /// <paramref name="joinedKvB"/> gives kv_b_proj as the one legacy <c>attn_kv_b</c> tensor (GGUFs converted before
    /// llama.cpp absorbed MLA, ~04/2025) instead of <c>attn_k_b</c> and <c>attn_v_b</c>.
    /// </summary>
    public static IEnumerable<DeepSeek2Tensor> Tensors(ModelConfig config, bool mtp, Func<int, bool>? sharedMtpCopies = null, bool joinedKvB = false)
    {
        foreach (var t in FromSpecs(config, CheckpointLayout.MainModel(config), joinedKvB)) yield return t;
        if (!mtp) yield break;
        for (int k = 0; k < config.MtpDepth; k++)
        {
            bool shared = sharedMtpCopies?.Invoke(k) ?? true;
            foreach (var t in FromSpecs(config, CheckpointLayout.MtpModule(config, k, includeSharedCopies: !shared), joinedKvB)) yield return t;
        }
    }

    /// <summary>The legacy unsplit kv_b of block <paramref name="layer"/>: ne {kv_lora, heads·(qk_nope + v_head)}.</summary>
    public static string JoinedKvBName(int layer) => $"blk.{layer}.attn_kv_b.weight";

    private static IEnumerable<DeepSeek2Tensor> FromSpecs(ModelConfig c, IEnumerable<ParameterSpec> specs, bool joinedKvB)
    {
        var experts = new Dictionary<string, List<ParameterSpec>>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            var (layer, local) = Split(spec.Name);
            if (layer < 0)
            {
                string name = spec.Name switch
                {
                    CheckpointLayout.Embed => "token_embd.weight",
                    CheckpointLayout.FinalNorm => "output_norm.weight",
                    CheckpointLayout.Head => "output.weight",
                    _ => throw new InvalidOperationException($"no GGUF name for {spec.Name}"),
                };
                yield return Plain(name, spec);
                continue;
            }
            string blk = $"blk.{layer}.";
            if (ExpertPart(local) is { } part)
            {
                // Collect the experts of one layer and part; emit the stacked tensor after the last one.
                string key = blk + part;
                if (!experts.TryGetValue(key, out var list)) experts[key] = list = [];
                list.Add(spec);
                if (list.Count == c.NRoutedExperts)
                {
                    var first = list[0];
                    yield return new(key + ".weight", [first.Shape[1], first.Shape[0], list.Count], DeepSeek2TensorKind.Experts,
                        list.Select(s => s.Name).ToArray(), first);
                }
                continue;
            }
            if (local == CheckpointLayout.KvBProj && joinedKvB)
            {
                yield return Plain(JoinedKvBName(layer), spec);
                continue;
            }
            if (local == CheckpointLayout.KvBProj)
            {
                long nh = c.NumAttentionHeads;
                yield return new(blk + "attn_k_b.weight", [c.QkNopeHeadDim, c.KvLoraRank, nh], DeepSeek2TensorKind.KeyB, [spec.Name], spec);
                yield return new(blk + "attn_v_b.weight", [c.KvLoraRank, c.VHeadDim, nh], DeepSeek2TensorKind.ValueB, [spec.Name], spec);
                continue;
            }
            string gguf = local switch
            {
                CheckpointLayout.InputNorm => "attn_norm.weight",
                CheckpointLayout.QProj => "attn_q.weight",
                CheckpointLayout.QAProj => "attn_q_a.weight",
                CheckpointLayout.QANorm => "attn_q_a_norm.weight",
                CheckpointLayout.QBProj => "attn_q_b.weight",
                CheckpointLayout.KvAProj => "attn_kv_a_mqa.weight",
                CheckpointLayout.KvANorm => "attn_kv_a_norm.weight",
                CheckpointLayout.OProj => "attn_output.weight",
                CheckpointLayout.PostAttentionNorm => "ffn_norm.weight",
                CheckpointLayout.DenseGate => "ffn_gate.weight",
                CheckpointLayout.DenseUp => "ffn_up.weight",
                CheckpointLayout.DenseDown => "ffn_down.weight",
                CheckpointLayout.Router => "ffn_gate_inp.weight",
                CheckpointLayout.RouterBias => "exp_probs_b.bias",
                CheckpointLayout.SharedGate => "ffn_gate_shexp.weight",
                CheckpointLayout.SharedUp => "ffn_up_shexp.weight",
                CheckpointLayout.SharedDown => "ffn_down_shexp.weight",
                CheckpointLayout.MtpEmbed => "nextn.embed_tokens.weight",
                CheckpointLayout.MtpENorm => "nextn.enorm.weight",
                CheckpointLayout.MtpHNorm => "nextn.hnorm.weight",
                CheckpointLayout.MtpEhProj => "nextn.eh_proj.weight",
                CheckpointLayout.MtpHeadNorm => "nextn.shared_head_norm.weight",
                CheckpointLayout.MtpHead => "nextn.shared_head_head.weight",
                _ => throw new InvalidOperationException($"no GGUF name for {spec.Name}"),
            };
            yield return Plain(blk + gguf, spec);
        }
    }

    private static DeepSeek2Tensor Plain(string name, ParameterSpec spec) =>
        new(name, spec.Shape.Reverse().ToArray(), DeepSeek2TensorKind.Plain, [spec.Name], spec);

    private static string? ExpertPart(string local)
    {
        if (!local.StartsWith("mlp.experts.", StringComparison.Ordinal)) return null;
        if (local.EndsWith(".gate_proj.weight", StringComparison.Ordinal)) return "ffn_gate_exps";
        if (local.EndsWith(".up_proj.weight", StringComparison.Ordinal)) return "ffn_up_exps";
        if (local.EndsWith(".down_proj.weight", StringComparison.Ordinal)) return "ffn_down_exps";
        return null;
    }

    // "model.layers.7.mlp.gate.weight" -> (7, "mlp.gate.weight"); a top-level name -> (-1, name).
    private static (int Layer, string Local) Split(string name)
    {
        const string prefix = "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return (-1, name);
        int dot = name.IndexOf('.', prefix.Length);
        return (int.Parse(name.AsSpan(prefix.Length, dot - prefix.Length), System.Globalization.CultureInfo.InvariantCulture), name[(dot + 1)..]);
    }
}
