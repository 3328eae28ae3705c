using SeekSharp.Model;

namespace SeekSharp.Training;

/// <summary>
/// The model FLOPs utilisation that spending <see cref="GpuHours"/> on <see cref="Tokens"/> implies, against each peak
/// of a GPU. Computed, not published: the FLOPs come from <see cref="CostModel"/>, the hours from a report.
/// </summary>
/// <param name="Tokens">Training tokens.</param>
/// <param name="Flops">Model FLOPs of training on the tokens (forward + backward).</param>
/// <param name="GpuHours">GPU-hours spent on them.</param>
/// <param name="AchievedFlopsPerGpu">Flops / (GPU-hours · 3600): what each GPU sustained, in FLOP/s.</param>
/// <param name="Bf16">Achieved over the dense BF16 peak.</param>
/// <param name="Fp8">Achieved over the dense FP8 peak (the roof if every matmul ran in FP8).</param>
/// <param name="Mixed">Achieved over <paramref name="MixedPeakFlops"/>.</param>
/// <param name="MixedPeakFlops">The roof of DeepSeek's recipe: decoder-block matmuls at the FP8 peak, the rest at BF16
/// (<see cref="CostModel.MixedPeakFlops"/>).</param>
public sealed record ImpliedUtilisation(
    double Tokens, double Flops, double GpuHours, double AchievedFlopsPerGpu, double Bf16, double Fp8, double Mixed, double MixedPeakFlops)
{
    /// <summary>Utilisation of training <paramref name="parts"/> (a cost model and its tokens each, for runs that change
    /// sequence length) in <paramref name="gpuHours"/> on <paramref name="gpu"/>.</summary>
    public static ImpliedUtilisation Of(IEnumerable<(CostModel Cost, double Tokens)> parts, double gpuHours, GpuSpec gpu)
    {
        double tokens = 0, flops = 0, fp8 = 0;
        foreach (var (cost, n) in parts)
        {
            tokens += n;
            flops += cost.TrainingFlops(n);
            fp8 += n * cost.Training.Fp8Eligible;
        }
        double achieved = flops / (gpuHours * 3600);
        double mixedPeak = CostModel.MixedPeakFlops(flops, fp8, gpu);
        return new ImpliedUtilisation(tokens, flops, gpuHours, achieved,
            Bf16: achieved / gpu.PeakFlops(PeakPrecision.Bf16),
            Fp8: achieved / gpu.PeakFlops(PeakPrecision.Fp8),
            Mixed: achieved / mixedPeak,
            MixedPeakFlops: mixedPeak);
    }

    /// <summary>DeepSeek-V3's pre-training: 14.8T tokens at 4096 in 2,664K H800 GPU-hours.</summary>
    public static ImpliedUtilisation Pretraining(ModelConfig c, AttentionSpan span = AttentionSpan.Causal) =>
        Of([(CostModel.For(c, DeepSeekV3Report.PretrainingSequenceLength, span), DeepSeekV3Report.PretrainingTokens)],
            DeepSeekV3Report.Pretraining.GpuHours, GpuSpecs.Get(DeepSeekV3Report.Gpu));

    /// <summary>DeepSeek-V3's context extension: the 32K and 128K phases in 119K H800 GPU-hours. Whether the MTP module
    /// was trained in these phases is not published; it is counted, as configured (about 3% of the FLOPs at 32K, 2% at 128K).</summary>
    public static ImpliedUtilisation ContextExtension(ModelConfig c, AttentionSpan span = AttentionSpan.Causal) =>
        Of(DeepSeekV3Report.ContextExtensionPhases.Select(p => (CostModel.For(c, p.SequenceLength, span), p.Tokens)),
            DeepSeekV3Report.ContextExtension.GpuHours, GpuSpecs.Get(DeepSeekV3Report.Gpu));
}
