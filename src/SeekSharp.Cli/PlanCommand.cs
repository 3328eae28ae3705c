using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using SeekSharp.Training;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp plan (--preset NAME | --model DIR) --gpus N [--pp P] [--ep E] [--dp D] [--gpu h800]</c>: a parallel
/// layout on paper (docs/cost.md): per GPU, memory for weights, gradients, optimizer state and activations, all-to-all
/// bytes per step, and step-time bounds from compute and from the interconnect; for DeepSeek-V3, beside the report.
/// </summary>
internal static class PlanCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string?>("--model") { Description = CliCommon.ModelFolderHelp + " Only its config.json is read." };
        var preset = new Option<string?>("--preset") { Description = "A named config (deepseek-v3, ...)." };
        var gpus = new Option<int>("--gpus") { Description = "GPUs in all.", Required = true };
        var pp = new Option<int>("--pp") { Description = "Pipeline stages.", DefaultValueFactory = _ => 1 };
        var ep = new Option<int>("--ep") { Description = "GPUs each MoE layer's routed experts are split over.", DefaultValueFactory = _ => 1 };
        var dp = new Option<int?>("--dp") { Description = "Copies of each expert (data parallel); must equal GPUs / (PP × EP) when given." };
        var gpu = new Option<string>("--gpu") { Description = $"The GPU: {string.Join(", ", GpuSpecs.Names)}.", DefaultValueFactory = _ => "h800" };
        var batch = new Option<int>("--global-batch") { Description = "Sequences per step over the cluster (DeepSeek-V3 ramped to 15,360).", DefaultValueFactory = _ => 15_360 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence.", DefaultValueFactory = _ => 4096 };
        var micro = new Option<int>("--micro-batch") { Description = "Sequences per micro-batch on one GPU.", DefaultValueFactory = _ => 1 };
        var ib = new Option<double>("--ib-gbps") { Description = "InfiniBand GB/s per GPU (H800 in the report: 50).", DefaultValueFactory = _ => 50 };
        var nvlink = new Option<double>("--nvlink-gbps") { Description = "NVLink GB/s per GPU (H800 in the report: 160).", DefaultValueFactory = _ => 160 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("plan", "Plan a parallel training layout: memory, all-to-all traffic and step-time bounds per GPU.")
            { model, preset, gpus, pp, ep, dp, gpu, batch, seqLen, micro, ib, nvlink, json };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            var (config, source) = InfoCommand.ConfigFrom(r.GetValue(model), r.GetValue(preset));
            var layout = new ParallelLayout
            {
                Gpus = r.GetValue(gpus),
                Pipeline = r.GetValue(pp),
                Expert = r.GetValue(ep),
                GlobalBatch = r.GetValue(batch),
                SequenceLength = r.GetValue(seqLen),
                MicroBatch = r.GetValue(micro),
                InfiniBandGBps = r.GetValue(ib),
                NvLinkGBps = r.GetValue(nvlink),
            };
            layout.Validate(config);
            if (r.GetValue(dp) is { } d && d != layout.Data)
                throw new UsageException($"--dp {d} does not fit: --gpus {layout.Gpus} / (--pp {layout.Pipeline} × --ep {layout.Expert}) = {layout.Data}.");
            var plan = new ParallelPlan(config, layout, GpuSpecs.Get(r.GetValue(gpu)!));
            stdout.WriteLine(r.GetValue(json) ? Json(plan, source).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : Text(plan, source));
            return CliRunner.Ok;
        }));
        return command;
    }

    private static string Text(ParallelPlan p, string source)
    {
        var l = p.Layout;
        var h = p.Heaviest;
        double total = p.WeightBytes + p.GradientBytes + p.OptimizerBytes + p.ActivationBytes;
        var lines = new List<string>
        {
            $"{source}: {l.Gpus:N0} {p.Gpu.Name} GPUs = PP {l.Pipeline} × EP {l.Expert} × DP {l.Data}; {l.GlobalBatch:N0} × {l.SequenceLength:N0} = {p.TokensPerStep / 1e6:0.0}M tokens per step, {p.TokensPerGpu:N0} per GPU",
            $"heaviest stage {h.Stage}: layers {h.FirstLayer}–{h.FirstLayer + h.Layers - 1}{(h.Embedding ? " + embedding" : "")}{(h.Head ? " + head and MTP" : "")}: "
                + $"{(h.NonExpertParameters + h.ExpertParameters) / 1e9:0.00}B parameters per GPU ({h.NonExpertParameters / 1e9:0.00}B replicated, {h.ExpertParameters / 1e9:0.00}B routed experts after dividing by EP)",
            "memory per GPU:",
            $"  weights      {Gb(p.WeightBytes),9}  (BF16 compute copy)",
            $"  gradients    {Gb(p.GradientBytes),9}  (FP32)",
            $"  optimizer    {Gb(p.OptimizerBytes),9}  (FP32 master + BF16 Adam moments, ZeRO-1 over EP × DP = {l.Expert * l.Data} GPUs, experts over DP = {l.Data})",
            $"  activations  {Gb(p.ActivationBytes),9}  (upper bound, no recomputation: {ParallelPlan.ActivationBytesPerTokenPerLayer(p.Config) / 1024:0.0} KiB per token and layer × {l.MicroBatch * l.SequenceLength:N0} tokens × {l.Pipeline} micro-batches in flight)",
            $"  total        {Gb(total),9}",
            $"all-to-all per GPU per step: InfiniBand {Gb(p.InfiniBandBytesPerStep)} (each token to ≤ {p.NodesPerToken} nodes per MoE layer), NVLink {Gb(p.NvLinkBytesPerStep)} ({p.MoeLayersPerStage:0} MoE layers on stage {p.BusiestMoeStage.Stage})",
            $"step-time bounds: compute {p.ComputeBoundSeconds:0.00} s at {p.PeakFlops / 1e12:0} TFLOP/s, InfiniBand {p.InfiniBandBoundSeconds:0.00} s at {l.InfiniBandGBps:0} GB/s, NVLink {p.NvLinkBoundSeconds:0.00} s at {l.NvLinkGBps:0} GB/s",
            $"GPU-hours per trillion tokens at the compute bound: {p.GpuHoursPerTrillionTokensAtPeak / 1e3:0.0}K",
        };
        if (DeepSeekV3Report.Describes(p.Config))
        {
            double ratio = DeepSeekV3Report.GpuHoursPerTrillionTokens / p.GpuHoursPerTrillionTokensAtPeak;
            lines.Add($"DeepSeek-V3 report: {DeepSeekV3Report.GpuHoursPerTrillionTokens / 1e3:0}K GPU-hours per trillion tokens on {DeepSeekV3Report.ClusterGpus:N0} H800s: "
                + $"{ratio:0.0}× the compute bound, i.e. {1 / ratio:P0} of the mixed peak. The bound leaves out pipeline bubbles, recomputation, "
                + "attention's softmax and the elementwise work, and communication the overlap does not hide; "
                + $"the step is also only as fast as its slowest bound ({Math.Max(p.ComputeBoundSeconds, Math.Max(p.InfiniBandBoundSeconds, p.NvLinkBoundSeconds)):0.00} s here).");
        }
        return string.Join(Environment.NewLine, lines);
    }

    private static JsonObject Json(ParallelPlan p, string source) => new()
    {
        ["source"] = source,
        ["gpus"] = p.Layout.Gpus,
        ["pp"] = p.Layout.Pipeline,
        ["ep"] = p.Layout.Expert,
        ["dp"] = p.Layout.Data,
        ["tokens_per_step"] = p.TokensPerStep,
        ["heaviest_stage"] = p.Heaviest.Stage,
        ["parameters_per_gpu"] = p.Heaviest.NonExpertParameters + p.Heaviest.ExpertParameters,
        ["memory_bytes"] = new JsonObject
        {
            ["weights"] = p.WeightBytes,
            ["gradients"] = p.GradientBytes,
            ["optimizer"] = p.OptimizerBytes,
            ["activations"] = p.ActivationBytes,
        },
        ["infiniband_bytes_per_step"] = p.InfiniBandBytesPerStep,
        ["nvlink_bytes_per_step"] = p.NvLinkBytesPerStep,
        ["compute_bound_seconds"] = p.ComputeBoundSeconds,
        ["infiniband_bound_seconds"] = p.InfiniBandBoundSeconds,
        ["nvlink_bound_seconds"] = p.NvLinkBoundSeconds,
        ["gpu_hours_per_trillion_tokens_at_peak"] = p.GpuHoursPerTrillionTokensAtPeak,
    };

    private static string Gb(double bytes) => $"{bytes / 1e9:0.0} GB";
}
