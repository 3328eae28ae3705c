using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SeekSharp.Model;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp info</c>: a config's shape, parameter counts and KV-cache size, from a model folder or a preset.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string?>("--model") { Description = CliCommon.ModelFolderHelp + " Only its config.json is read." };
        var preset = new Option<string?>("--preset") { Description = $"A named config: {string.Join(", ", Presets.Names)}." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("info", "Show a model's architecture, parameter counts and KV-cache size.") { model, preset, json };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            var (config, source) = ConfigFrom(r.GetValue(model), r.GetValue(preset));
            var report = Report(config, source);
            stdout.WriteLine(r.GetValue(json) ? report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : Text(config, source));
            return CliRunner.Ok;
        }));
        return command;
    }

    public static (ModelConfig Config, string Source) ConfigFrom(string? model, string? preset)
    {
        if ((model is null) == (preset is null)) throw new UsageException("give exactly one of --model DIR or --preset NAME.");
        if (model is null) return (Presets.Get(preset!), "preset " + preset);
        string folder = ModelPath.Resolve(model);
        return (ModelConfig.Load(folder), folder);
    }

    private static JsonObject Report(ModelConfig c, string source)
    {
        var a = ModelAccounting.For(c);
        return new JsonObject
        {
            ["source"] = source,
            ["model_type"] = c.ModelType,
            ["layers"] = c.NumHiddenLayers,
            ["dense_layers"] = a.DenseLayers,
            ["moe_layers"] = a.MoeLayers,
            ["mtp_modules"] = c.MtpDepth,
            ["hidden_size"] = c.HiddenSize,
            ["vocab_size"] = c.VocabSize,
            ["attention"] = new JsonObject
            {
                ["heads"] = c.NumAttentionHeads,
                ["q_lora_rank"] = c.QLoraRank,
                ["kv_lora_rank"] = c.KvLoraRank,
                ["qk_nope_head_dim"] = c.QkNopeHeadDim,
                ["qk_rope_head_dim"] = c.QkRopeHeadDim,
                ["v_head_dim"] = c.VHeadDim,
                ["softmax_scale"] = new Rope(c).SoftmaxScale,
            },
            ["moe"] = c.HasMoe ? new JsonObject
            {
                ["routed_experts"] = c.NRoutedExperts,
                ["shared_experts"] = c.NSharedExperts,
                ["experts_per_token"] = c.NumExpertsPerTok,
                ["groups"] = c.ExpertGroups,
                ["topk_group"] = c.TopkGroup,
                ["scoring_func"] = c.ScoringFunc.ToString().ToLowerInvariant(),
                ["topk_method"] = c.TopkMethodName,
                ["routed_scaling_factor"] = c.RoutedScalingFactor,
            } : null,
            ["parameters"] = new JsonObject
            {
                ["main"] = a.MainParameters,
                ["activated_per_token"] = a.ActivatedParameters,
                ["activated_per_token_excluding_embedding"] = a.ActivatedParametersExcludingEmbedding,
                ["mtp_unique"] = a.MtpUniqueParameters,
                ["embedding"] = a.EmbeddingParameters,
                ["head"] = a.HeadParameters,
                ["routed_experts"] = a.RoutedExpertParameters,
                ["checkpoint_total"] = a.CheckpointParameters,
                ["checkpoint_tensors"] = a.TensorCount,
                ["fp8_release_tensors"] = a.Fp8TensorCount,
            },
            ["kv_cache_bytes_per_token"] = new JsonObject
            {
                ["latent_values_per_layer"] = a.LatentCacheValuesPerTokenPerLayer,
                ["naive_values_per_layer"] = a.NaiveCacheValuesPerTokenPerLayer,
                ["latent_bf16"] = a.LatentCacheBytesPerToken(2),
                ["naive_bf16"] = a.NaiveCacheBytesPerToken(2),
                ["latent_f32"] = a.LatentCacheBytesPerToken(4),
                ["naive_f32"] = a.NaiveCacheBytesPerToken(4),
                ["naive_over_latent"] = Math.Round((double)a.NaiveCacheValuesPerTokenPerLayer / a.LatentCacheValuesPerTokenPerLayer, 2),
            },
        };
    }

    private static string Text(ModelConfig c, string source)
    {
        var a = ModelAccounting.For(c);
        static string B(long n) => n >= 1_000_000_000 ? $"{n / 1e9:F2}B" : n >= 1_000_000 ? $"{n / 1e6:F2}M" : $"{n / 1e3:F1}K";
        static string Bytes(long n) => n >= 1 << 20 ? $"{n / (double)(1 << 20):F2} MiB" : $"{n / 1024.0:F1} KiB";
        var q = c.HasQLora ? $"q_lora_rank {c.QLoraRank}" : "no q LoRA (q_proj)";
        var moe = c.HasMoe
            ? $"{c.NRoutedExperts} routed experts ({c.NumExpertsPerTok} per token, {c.ExpertGroups} groups keep {c.TopkGroup}), {c.NSharedExperts} shared, {c.ScoringFunc.ToString().ToLowerInvariant()} scoring, {c.TopkMethodName}"
            : "no MoE";
        return string.Join(Environment.NewLine,
            $"{source}: {c.ModelType ?? "deepseek"}, {c.NumHiddenLayers} layers ({a.DenseLayers} dense, {a.MoeLayers} MoE) + {c.MtpDepth} MTP, hidden {c.HiddenSize}, vocab {c.VocabSize}",
            $"attention: MLA, {c.NumAttentionHeads} heads, {q}, kv_lora_rank {c.KvLoraRank}, head dims nope {c.QkNopeHeadDim} / rope {c.QkRopeHeadDim} / v {c.VHeadDim}",
            $"ffn: {moe}",
            $"parameters: {B(a.MainParameters)} main, {B(a.ActivatedParameters)} activated per token, {B(a.MtpUniqueParameters)} MTP (unique), {B(a.EmbeddingParameters)} embedding, {B(a.CheckpointParameters)} in the checkpoint",
            $"KV cache per token (BF16): latent {Bytes(a.LatentCacheBytesPerToken(2))} vs naive {Bytes(a.NaiveCacheBytesPerToken(2))} ({(double)a.NaiveCacheValuesPerTokenPerLayer / a.LatentCacheValuesPerTokenPerLayer:F1}× smaller)");
    }
}
