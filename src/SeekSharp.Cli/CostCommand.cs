using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SeekSharp.Model;
using SeekSharp.Training;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp cost</c>: training FLOPs per token of a config (with the breakdown by kind of matmul), then, given a
/// GPU, the GPU-hours and dollars at an assumed MFU, or the MFU that a number of GPU-hours implies. For DeepSeek-V3 it
/// also prints the report's published cost table and the utilisation those figures imply.
/// </summary>
internal static class CostCommand
{
    private sealed record Inputs(
        ModelConfig Config, string Source, double Tokens, GpuSpec? Gpu, PeakPrecision Precision, double? PeakFlops,
        double? Mfu, double? GpuHours, double Price, int? Gpus, CostModel Cost)
    {
        /// <summary>The run priced as owned hardware (<c>--ownership</c>), or null.</summary>
        public OwnershipCost? Ownership { get; init; }
    }

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string?>("--model") { Description = CliCommon.ModelFolderHelp + " Only its config.json is read." };
        var preset = new Option<string?>("--preset") { Description = $"A named config: {string.Join(", ", Presets.Names)}." };
        var tokens = new Option<string>("--tokens") { Description = "Training tokens, with an optional K/M/B/T suffix (14.8T = 1.48e13).", Required = true };
        var gpu = new Option<string?>("--gpu") { Description = $"The GPU: {string.Join(", ", GpuSpecs.Names)}." };
        var peak = new Option<double?>("--peak-tflops") { Description = "A peak in TFLOP/s per GPU, instead of --gpu." };
        var precision = new Option<string?>("--precision") { Description = "Which peak of --gpu: bf16 (default), fp8, or mixed (DeepSeek's FP8 GEMMs with BF16 attention, router and head)." };
        precision.AcceptOnlyFromAmong("bf16", "fp8", "mixed");
        var mfu = new Option<double?>("--mfu") { Description = "Assumed model FLOPs utilisation in (0, 1]: projects GPU-hours and cost." };
        var gpuHours = new Option<string?>("--gpu-hours") { Description = "GPU-hours spent (K/M suffixes work): prints the implied MFU." };
        var price = new Option<double>("--price-per-gpu-hour") { Description = "Dollars per GPU-hour.", DefaultValueFactory = _ => DeepSeekV3Report.PricePerGpuHour };
        var gpus = new Option<int?>("--gpus") { Description = "Cluster size, to turn GPU-hours into days." };
        var seqLen = new Option<int>("--seq-len") { Description = "Training sequence length (attention scores grow with it).", DefaultValueFactory = _ => FlopCounter.PretrainingSequenceLength };
        var span = new Option<string>("--attention-span") { Description = "Attention-score FLOPs: causal (the kept half, default) or full (the whole square).", DefaultValueFactory = _ => "causal" };
        span.AcceptOnlyFromAmong("causal", "full");
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var ownership = new Option<bool>("--ownership") { Description = "Also price the run on owned hardware: the cluster's yearly cost over its useful GPU-hours (docs/cost.md)." };
        var scenario = new Option<string>("--scenario") { Description = $"The ownership assumptions to start from: {string.Join(", ", OwnershipAssumptions.Scenarios.Keys)}; the flags below override them.", DefaultValueFactory = _ => "analysts-2025" };
        scenario.AcceptOnlyFromAmong([.. OwnershipAssumptions.Scenarios.Keys]);
        var clusterGpus = new Option<int?>("--cluster-gpus") { Description = "GPUs in the owned cluster." };
        var capital = new Option<string?>("--capital-cost") { Description = "Dollars of servers, paid once (K/M/B suffixes: 1.6B)." };
        var amortisation = new Option<double?>("--amortisation-years") { Description = "Years the servers are written off over." };
        var operating = new Option<string?>("--operating-cost") { Description = "Dollars of operating cost (power, space, staff) over --operating-years (944M)." };
        var operatingYears = new Option<double?>("--operating-years") { Description = "Years the operating cost covers." };
        var utilisation = new Option<double?>("--utilisation") { Description = "Share of the cluster's hours doing useful work, in (0, 1]." };
        var command = new Command("cost", "Training FLOPs per token, GPU-hours, dollars and model FLOPs utilisation.")
            { model, preset, tokens, gpu, peak, precision, mfu, gpuHours, price, gpus, seqLen, span, json, ownership, scenario, clusterGpus, capital, amortisation, operating, operatingYears, utilisation };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            var (config, source) = InfoCommand.ConfigFrom(r.GetValue(model), r.GetValue(preset));
            var inputs = Read(config, source, r.GetValue(tokens)!, r.GetValue(gpu), r.GetValue(peak), r.GetValue(precision),
                r.GetValue(mfu), r.GetValue(gpuHours), r.GetValue(price), r.GetValue(gpus), r.GetValue(seqLen),
                r.GetValue(span) == "full" ? AttentionSpan.Full : AttentionSpan.Causal);
            bool ownFlags = r.GetValue(clusterGpus) is not null || r.GetValue(capital) is not null || r.GetValue(amortisation) is not null
                || r.GetValue(operating) is not null || r.GetValue(operatingYears) is not null || r.GetValue(utilisation) is not null;
            if (ownFlags && !r.GetValue(ownership)) throw new UsageException("the cluster flags (--cluster-gpus, --capital-cost, ...) describe owned hardware: add --ownership.");
            if (r.GetValue(ownership))
            {
                var baseline = OwnershipAssumptions.Scenarios[r.GetValue(scenario)!];
                var assumptions = baseline with
                {
                    ClusterGpus = r.GetValue(clusterGpus) ?? baseline.ClusterGpus,
                    CapitalCost = r.GetValue(capital) is { } cc ? Quantity.Parse(cc, "--capital-cost") : baseline.CapitalCost,
                    AmortisationYears = r.GetValue(amortisation) ?? baseline.AmortisationYears,
                    OperatingCost = r.GetValue(operating) is { } oc ? Quantity.Parse(oc, "--operating-cost") : baseline.OperatingCost,
                    OperatingYears = r.GetValue(operatingYears) ?? baseline.OperatingYears,
                    Utilisation = r.GetValue(utilisation) ?? baseline.Utilisation,
                    Source = ownFlags ? $"{r.GetValue(scenario)} with the flags given: " + baseline.Source : baseline.Source,
                };
                assumptions.Validate();
                double runHours = inputs.GpuHours
                    ?? (inputs.Mfu is { } m ? inputs.Cost.GpuHours(inputs.Tokens, inputs.PeakFlops!.Value, m)
                    : throw new UsageException("--ownership prices a run: give its --gpu-hours, or --mfu to project them."));
                inputs = inputs with { Ownership = new OwnershipCost(assumptions, runHours, inputs.Price) };
            }
            stdout.WriteLine(r.GetValue(json) ? Report(inputs).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : Text(inputs));
            return CliRunner.Ok;
        }));
        return command;
    }

    // ------------------------------------------------------------------ inputs

    private static Inputs Read(ModelConfig config, string source, string tokensText, string? gpuName, double? peakTflops,
        string? precisionName, double? mfu, string? gpuHoursText, double price, int? gpus, int seqLen, AttentionSpan span)
    {
        if (gpuName is not null && peakTflops is not null) throw new UsageException("give --gpu NAME or --peak-tflops X, not both.");
        if (mfu is not null && gpuHoursText is not null) throw new UsageException("give --mfu (to project GPU-hours) or --gpu-hours (to imply the MFU), not both.");
        if (precisionName is not null && peakTflops is not null) throw new UsageException("--precision picks a peak of --gpu; --peak-tflops is already a peak.");
        if (precisionName is not null && gpuName is null) throw new UsageException("--precision picks a peak of --gpu: give --gpu NAME.");
        if ((mfu is not null || gpuHoursText is not null) && gpuName is null && peakTflops is null)
            throw new UsageException($"{(mfu is not null ? "--mfu" : "--gpu-hours")} needs a GPU: --gpu NAME or --peak-tflops X.");

        double tokens = Quantity.Parse(tokensText, "--tokens");
        if (!(tokens > 0)) throw new InvalidInputException($"--tokens must be positive, got {tokensText}.");
        double? hours = gpuHoursText is null ? null : Quantity.Parse(gpuHoursText, "--gpu-hours");
        if (hours is not null && !(hours > 0)) throw new InvalidInputException($"--gpu-hours must be positive, got {gpuHoursText}.");
        if (mfu is not null) CostModel.Utilisation(mfu.Value);
        if (!(price >= 0) || !double.IsFinite(price)) throw new InvalidInputException($"--price-per-gpu-hour must be 0 or more, got {price}.");
        if (gpus is <= 0) throw new InvalidInputException($"--gpus must be positive, got {gpus}.");
        if (peakTflops is not null && !(peakTflops > 0 && double.IsFinite(peakTflops.Value)))
            throw new InvalidInputException($"--peak-tflops must be positive, got {peakTflops}.");

        var precision = precisionName switch { "fp8" => PeakPrecision.Fp8, "mixed" => PeakPrecision.Mixed, _ => PeakPrecision.Bf16 };
        var gpu = gpuName is null ? null : GpuSpecs.Get(gpuName);
        var cost = CostModel.For(config, seqLen, span);
        double? peak = gpu is not null ? cost.PeakFlops(gpu, precision) : peakTflops * 1e12;
        return new Inputs(config, source, tokens, gpu, precision, peak, mfu, hours, price, gpus, cost);
    }

    // ------------------------------------------------------------------ JSON

    private static JsonObject Report(Inputs x)
    {
        var c = x.Cost;
        var report = new JsonObject
        {
            ["source"] = x.Source,
            ["sequence_length"] = c.SequenceLength,
            ["attention_span"] = Name(c.Span),
            ["counted"] = "matmul FLOPs (2 per multiply-add); norms, RoPE, softmax, SiLU and residuals are not counted",
            ["training_flops_per_token"] = Breakdown(c.Training),
            ["forward_flops_per_token"] = Breakdown(c.Forward),
            ["rule_of_thumb"] = new JsonObject
            {
                ["parameters"] = c.RuleOfThumbParameters,
                ["training_flops_per_token"] = c.RuleOfThumbTrainingFlopsPerToken,
                ["over_count"] = c.RuleOfThumbTrainingFlopsPerToken / c.Training.Total,
            },
            ["inference_flops_per_token"] = new JsonObject
            {
                ["context"] = c.SequenceLength,
                ["prefill"] = c.Inference.Total,
                ["decode_naive"] = FlopCounter.DecodeStep(x.Config, c.SequenceLength, MlaForm.Naive).Total,
                ["decode_absorbed"] = FlopCounter.DecodeStep(x.Config, c.SequenceLength, MlaForm.Absorbed).Total,
            },
            ["tokens"] = x.Tokens,
            ["training_flops"] = c.TrainingFlops(x.Tokens),
        };
        if (x.PeakFlops is { } peak)
        {
            report["gpu"] = new JsonObject
            {
                ["name"] = x.Gpu?.Name,
                ["model"] = x.Gpu?.Model,
                ["precision"] = x.Gpu is null ? null : Name(x.Precision),
                ["peak_tflops"] = peak / 1e12,
                ["note"] = x.Gpu?.Note,
            };
            report["gpu_hours_at_full_utilisation"] = c.GpuHours(x.Tokens, peak, 1);
        }
        if (x.Mfu is { } mfu)
        {
            double hours = c.GpuHours(x.Tokens, x.PeakFlops!.Value, mfu);
            report["projection"] = new JsonObject
            {
                ["mfu"] = mfu,
                ["gpu_hours"] = hours,
                ["price_per_gpu_hour"] = x.Price,
                ["dollars"] = hours * x.Price,
                ["gpus"] = x.Gpus,
                ["days"] = x.Gpus is { } n ? hours / n / 24 : null,
            };
        }
        if (x.GpuHours is { } spent)
        {
            report["implied"] = new JsonObject
            {
                ["gpu_hours"] = spent,
                ["mfu"] = c.ImpliedMfu(x.Tokens, spent, x.PeakFlops!.Value),
                ["achieved_tflops_per_gpu"] = c.AchievedFlopsPerGpu(x.Tokens, spent) / 1e12,
                ["price_per_gpu_hour"] = x.Price,
                ["dollars"] = spent * x.Price,
                ["gpus"] = x.Gpus,
                ["days"] = x.Gpus is { } n ? spent / n / 24 : null,
            };
        }
        if (DeepSeekV3Report.Describes(x.Config)) report["deepseek_v3_report"] = V3Report(x);
        if (x.Ownership is { } o)
            report["ownership"] = new JsonObject
            {
                ["source"] = o.Assumptions.Source,
                ["cluster_gpus"] = o.Assumptions.ClusterGpus,
                ["capital_cost"] = o.Assumptions.CapitalCost,
                ["amortisation_years"] = o.Assumptions.AmortisationYears,
                ["operating_cost"] = o.Assumptions.OperatingCost,
                ["operating_years"] = o.Assumptions.OperatingYears,
                ["utilisation"] = o.Assumptions.Utilisation,
                ["cost_per_year"] = o.TotalPerYear,
                ["useful_gpu_hours_per_year"] = o.UsefulGpuHoursPerYear,
                ["effective_price_per_gpu_hour"] = o.EffectivePricePerGpuHour,
                ["run_gpu_hours"] = o.RunGpuHours,
                ["rental_dollars"] = o.RentalDollars,
                ["ownership_dollars"] = o.OwnershipDollars,
                ["share_of_cluster_year"] = o.ShareOfClusterYear,
            };
        return report;
    }

    private static JsonObject Breakdown(TokenFlops f) => new()
    {
        ["attention_projections"] = f.Main.AttentionProjections,
        ["attention_scores"] = f.Main.AttentionScores,
        ["dense_ffn"] = f.Main.DenseFfn,
        ["moe_experts"] = f.Main.MoeExperts,
        ["router"] = f.Main.Router,
        ["head"] = f.Main.Head,
        ["mtp"] = f.Mtp.Total,
        ["total"] = f.Total,
        ["fp8_eligible"] = f.Fp8Eligible,
        ["mtp_detail"] = new JsonObject
        {
            ["eh_proj"] = f.Mtp.EhProjection,
            ["attention_projections"] = f.Mtp.AttentionProjections,
            ["attention_scores"] = f.Mtp.AttentionScores,
            ["dense_ffn"] = f.Mtp.DenseFfn,
            ["moe_experts"] = f.Mtp.MoeExperts,
            ["router"] = f.Mtp.Router,
            ["head"] = f.Mtp.Head,
        },
    };

    private static JsonObject V3Report(Inputs x)
    {
        var stages = new JsonArray();
        foreach (var s in DeepSeekV3Report.Stages) stages.Add(Stage(s));
        var phases = new JsonArray();
        foreach (var p in DeepSeekV3Report.ContextExtensionPhases)
            phases.Add(new JsonObject { ["sequence_length"] = p.SequenceLength, ["batch_sequences"] = p.BatchSequences, ["steps"] = p.Steps });
        return new JsonObject
        {
            ["data"] = new JsonObject
            {
                ["source"] = DeepSeekV3Report.Source,
                ["gpu"] = DeepSeekV3Report.Gpu,
                ["price_per_gpu_hour"] = DeepSeekV3Report.PricePerGpuHour,
                ["stages"] = stages,
                ["total"] = Stage(DeepSeekV3Report.Total),
                ["pretraining_tokens"] = DeepSeekV3Report.PretrainingTokens,
                ["pretraining_sequence_length"] = DeepSeekV3Report.PretrainingSequenceLength,
                ["context_extension_phases"] = phases,
                ["gpu_hours_per_trillion_tokens"] = DeepSeekV3Report.GpuHoursPerTrillionTokens,
                ["days_per_trillion_tokens"] = DeepSeekV3Report.DaysPerTrillionTokens,
                ["cluster_gpus"] = DeepSeekV3Report.ClusterGpus,
                ["scope"] = DeepSeekV3Report.Scope,
            },
            ["computed"] = new JsonObject
            {
                ["pretraining"] = Implied(ImpliedUtilisation.Pretraining(x.Config, x.Cost.Span)),
                ["context_extension"] = Implied(ImpliedUtilisation.ContextExtension(x.Config, x.Cost.Span)),
            },
        };
    }

    private static JsonObject Stage(ReportedStage s) => new() { ["stage"] = s.Stage, ["gpu_hours"] = s.GpuHours, ["dollars"] = s.Dollars };

    private static JsonObject Implied(ImpliedUtilisation u) => new()
    {
        ["tokens"] = u.Tokens,
        ["training_flops"] = u.Flops,
        ["gpu_hours"] = u.GpuHours,
        ["achieved_tflops_per_gpu"] = u.AchievedFlopsPerGpu / 1e12,
        ["mfu_bf16"] = u.Bf16,
        ["mfu_fp8"] = u.Fp8,
        ["mfu_mixed"] = u.Mixed,
        ["mixed_peak_tflops"] = u.MixedPeakFlops / 1e12,
    };

    // ------------------------------------------------------------------ text

    private static string Text(Inputs x)
    {
        var c = x.Cost;
        var lines = new List<string>
        {
            $"{x.Source}: training FLOPs per token at sequence length {c.SequenceLength} ({Name(c.Span)} attention; forward + backward = 3 × forward; matmuls only)",
        };
        lines.AddRange(BreakdownLines(x.Config, c.Training));
        lines.Add($"  6·N rule of thumb (N = {Count(c.RuleOfThumbParameters)} activated, one embedding row): {G(c.RuleOfThumbTrainingFlopsPerToken)} ({c.RuleOfThumbTrainingFlopsPerToken / c.Training.Total:F2}× the count: no attention scores, no MTP)");
        lines.Add($"inference FLOPs per token (forward, no MTP): {G(c.Inference.Total)} over a {c.SequenceLength}-token prompt; one decoded token at context {c.SequenceLength}: "
            + $"{G(FlopCounter.DecodeStep(x.Config, c.SequenceLength, MlaForm.Naive).Total)} naive, {G(FlopCounter.DecodeStep(x.Config, c.SequenceLength, MlaForm.Absorbed).Total)} absorbed MLA");
        lines.Add($"{Count(x.Tokens)} tokens: {Sci(c.TrainingFlops(x.Tokens))} training FLOPs");
        if (x.PeakFlops is { } peak)
        {
            string gpu = x.Gpu is null ? "given peak" : $"{x.Gpu.Model} ({x.Gpu.Name}), dense {Name(x.Precision)} peak";
            lines.Add($"{gpu} {peak / 1e12:F1} TFLOP/s: {Hours(c.GpuHours(x.Tokens, peak, 1))} GPU-hours at 100% MFU");
        }
        if (x.Mfu is { } mfu)
        {
            double hours = c.GpuHours(x.Tokens, x.PeakFlops!.Value, mfu);
            lines.Add($"at {Percent(mfu)} MFU: {Hours(hours)} GPU-hours, {Dollars(hours * x.Price)} at ${x.Price:0.##}/GPU-hour{Days(hours, x.Gpus)}");
        }
        if (x.GpuHours is { } spent)
            lines.Add($"{Hours(spent)} GPU-hours: implied MFU {Percent(c.ImpliedMfu(x.Tokens, spent, x.PeakFlops!.Value))} "
                + $"({c.AchievedFlopsPerGpu(x.Tokens, spent) / 1e12:F1} TFLOP/s per GPU), {Dollars(spent * x.Price)} at ${x.Price:0.##}/GPU-hour{Days(spent, x.Gpus)}");
        if (DeepSeekV3Report.Describes(x.Config)) lines.AddRange(V3Lines(x));
        if (x.Ownership is { } o) lines.AddRange(OwnershipLines(o));
        return string.Join(Environment.NewLine, lines);
    }

    private static IEnumerable<string> OwnershipLines(OwnershipCost o)
    {
        var a = o.Assumptions;
        yield return $"owning instead of renting ({a.Source ?? "the flags given"}):";
        yield return $"  cluster: {a.ClusterGpus:N0} GPUs, {Dollars(a.CapitalCost)} of servers written off over {a.AmortisationYears:0.#} years = {Dollars(o.CapitalPerYear)}/year; "
            + $"operating {Dollars(a.OperatingCost)} over {a.OperatingYears:0.#} years = {Dollars(o.OperatingPerYear)}/year; total {Dollars(o.TotalPerYear)}/year";
        yield return $"  useful GPU-hours per year at {Percent(a.Utilisation)} utilisation: {Hours(o.UsefulGpuHoursPerYear)}; effective cost ${o.EffectivePricePerGpuHour:0.00}/GPU-hour";
        yield return $"  this run, {Hours(o.RunGpuHours)} GPU-hours: rented {Dollars(o.RentalDollars)} at ${o.RentalPricePerGpuHour:0.##}/GPU-hour, owned {Dollars(o.OwnershipDollars)} "
            + $"at ${o.EffectivePricePerGpuHour:0.00}/GPU-hour; {Percent(o.ShareOfClusterYear)} of a year of the cluster, which costs {Dollars(o.YearOfClusterDollars)} a year whatever runs on it";
    }

    private static IEnumerable<string> BreakdownLines(ModelConfig config, TokenFlops f)
    {
        string experts = config.HasMoe ? $" ({config.NumExpertsPerTok} routed + {config.NSharedExperts ?? 0} shared)" : "";
        string mtp = $" ({config.MtpDepth} module{(config.MtpDepth == 1 ? "" : "s")}: eh_proj, block, head)";
        (string, double)[] rows =
        [
            ("attention projections", f.Main.AttentionProjections),
            ("attention scores", f.Main.AttentionScores),
            ("dense FFN", f.Main.DenseFfn),
            ("MoE experts" + experts, f.Main.MoeExperts),
            ("router", f.Main.Router),
            ("head", f.Main.Head),
            ("MTP" + mtp, f.Mtp.Total),
        ];
        foreach (var (label, value) in rows)
            yield return $"  {label,-40} {G(value),14} {Percent(value / f.Total),7}";
        yield return $"  {"total",-40} {G(f.Total),14}";
    }

    private static IEnumerable<string> V3Lines(Inputs x)
    {
        yield return $"{DeepSeekV3Report.Source}, as published (H800 GPU-hours, ${DeepSeekV3Report.PricePerGpuHour:0}/GPU-hour):";
        foreach (var s in DeepSeekV3Report.Stages.Append(DeepSeekV3Report.Total))
            yield return $"  {s.Stage,-20} {s.GpuHours / 1e3,8:N0}K  ${s.Dollars / 1e6:0.000}M";
        yield return $"  {DeepSeekV3Report.GpuHoursPerTrillionTokens / 1e3:N0}K GPU-hours per trillion tokens, {DeepSeekV3Report.DaysPerTrillionTokens} days on {DeepSeekV3Report.ClusterGpus} GPUs; {DeepSeekV3Report.Scope}";
        var pre = ImpliedUtilisation.Pretraining(x.Config, x.Cost.Span);
        var ext = ImpliedUtilisation.ContextExtension(x.Config, x.Cost.Span);
        string lengths = string.Join(" and ", DeepSeekV3Report.ContextExtensionPhases.Select(p => $"{p.SequenceLength / 1024}K"));
        yield return "computed here from those figures (H800 peaks; mixed = FP8 decoder matmuls, BF16 attention scores, router and heads):";
        yield return ImpliedLine($"pre-training ({Count(pre.Tokens)} tokens at {DeepSeekV3Report.PretrainingSequenceLength})", pre);
        yield return ImpliedLine($"context extension ({Count(ext.Tokens)} tokens at {lengths})", ext);
    }

    private static string ImpliedLine(string label, ImpliedUtilisation u) =>
        $"  {label}: {Sci(u.Flops)} FLOPs in {Hours(u.GpuHours)} GPU-hours = {u.AchievedFlopsPerGpu / 1e12:F1} TFLOP/s per GPU; "
        + $"MFU {Percent(u.Bf16)} of BF16, {Percent(u.Fp8)} of FP8, {Percent(u.Mixed)} of mixed ({u.MixedPeakFlops / 1e12:F0} TFLOP/s)";

    private static string Name(AttentionSpan s) => s == AttentionSpan.Causal ? "causal" : "full";
    private static string Name(PeakPrecision p) => p switch { PeakPrecision.Fp8 => "fp8", PeakPrecision.Mixed => "mixed", _ => "bf16" };

    private static string Percent(double fraction) => $"{fraction * 100:F1}%";

    private static string Sci(double x) => x.ToString("0.000e0", CultureInfo.InvariantCulture);

    private static string G(double flops) => $"{(flops / 1e9).ToString("F2", CultureInfo.InvariantCulture)} GFLOP";

    private static string Count(double n) => n switch
    {
        >= 1e12 => $"{n / 1e12:0.###}T",
        >= 1e9 => $"{n / 1e9:0.##}B",
        >= 1e6 => $"{n / 1e6:0.##}M",
        >= 1e3 => $"{n / 1e3:0.##}K",
        _ => $"{n:0.##}",
    };

    private static string Hours(double h) => h >= 1e6 ? $"{h / 1e6:0.###}M" : h >= 1e3 ? $"{h / 1e3:0.#}K" : $"{h:0.#}";

    private static string Dollars(double d) => d >= 1e9 ? $"${d / 1e9:0.000}B" : d >= 1e6 ? $"${d / 1e6:0.000}M" : d >= 1e3 ? $"${d / 1e3:0.0}K" : $"${d:0.00}";

    private static string Days(double hours, int? gpus) => gpus is { } n ? $", {hours / n / 24:0.0} days on {n} GPUs" : "";
}
