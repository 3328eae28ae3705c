using SeekSharp.Model;

namespace SeekSharp.Training;

/// <summary>
/// Training compute of one config: model FLOPs per token (forward, training, the 6·N rule of thumb for comparison),
/// and the conversions between tokens, GPU-hours and model FLOPs utilisation (MFU).
/// </summary>
/// <remarks>
/// Training costs three forward passes per token: the backward pass of a matmul Y = X·W computes dX = dY·Wᵀ and
/// dW = Xᵀ·dY, each as many FLOPs as the forward; the same holds for Q·Kᵀ and P·V. These are model FLOPs: activation
/// recomputation (DeepSeek recomputes RMSNorm and the MLA up-projections in the backward pass) adds hardware FLOPs
/// that MFU deliberately does not credit.
/// <para>MFU = tokens · training FLOPs per token / (GPU-hours · 3600 · peak FLOP/s per GPU).</para>
/// </remarks>
public sealed class CostModel
{
    /// <summary>Forward plus backward (dX and dW), in forward passes.</summary>
    public const double TrainingPassesPerForward = 3;

    public ModelConfig Config { get; }
    public int SequenceLength { get; }
    public AttentionSpan Span { get; }

    /// <summary>One forward pass per trained token: main model and MTP modules.</summary>
    public TokenFlops Forward { get; }

    /// <summary>Forward and backward per trained token: 3 × <see cref="Forward"/>.</summary>
    public TokenFlops Training { get; }

    /// <summary>Inference forward per token over a prompt of <see cref="SequenceLength"/> (prefill): the main model
    /// only, since plain generation does not run the MTP modules.</summary>
    public FlopsBreakdown Inference => Forward.Main;

    /// <summary>N of the rule of thumb: parameters a token touches in the main model, counting one embedding row (the
    /// table is a lookup) but the whole head (a matmul); norms and the expert bias count, as parameter counts do.</summary>
    public long RuleOfThumbParameters { get; }

    /// <summary>6·N: 2 FLOPs per parameter forward, 4 backward, no attention scores, no MTP.</summary>
    public double RuleOfThumbTrainingFlopsPerToken => 6.0 * RuleOfThumbParameters;

    private CostModel(ModelConfig config, int sequenceLength, AttentionSpan span)
    {
        Config = config;
        SequenceLength = sequenceLength;
        Span = span;
        Forward = FlopCounter.Forward(config, sequenceLength, span);
        Training = Forward.Times(TrainingPassesPerForward);
        RuleOfThumbParameters = ModelAccounting.For(config).ActivatedParametersExcludingEmbedding;
    }

    public static CostModel For(ModelConfig config, int sequenceLength = FlopCounter.PretrainingSequenceLength,
        AttentionSpan span = AttentionSpan.Causal) => new(config, sequenceLength, span);

    /// <summary>Model FLOPs of training on <paramref name="tokens"/> tokens.</summary>
    public double TrainingFlops(double tokens) => Positive(tokens, "The token count") * Training.Total;

    /// <summary>
    /// Peak FLOP/s of one <paramref name="gpu"/> for this model. BF16 and FP8 are the datasheet peaks; Mixed runs the
    /// FP8-eligible matmuls (<see cref="TokenFlops.Fp8Eligible"/>) at the FP8 peak and the rest at the BF16 peak, so
    /// its peak is total / (fp8 / P_fp8 + rest / P_bf16), between the two.
    /// </summary>
    public double PeakFlops(GpuSpec gpu, PeakPrecision precision)
    {
        return precision == PeakPrecision.Mixed ? MixedPeakFlops(Training.Total, Training.Fp8Eligible, gpu) : gpu.PeakFlops(precision);
    }

    /// <summary>The peak of a workload of <paramref name="total"/> FLOPs of which <paramref name="fp8"/> run at the FP8
    /// peak and the rest at the BF16 peak: total / (fp8 / P_fp8 + (total − fp8) / P_bf16).</summary>
    public static double MixedPeakFlops(double total, double fp8, GpuSpec gpu) =>
        total / (fp8 / gpu.PeakFlops(PeakPrecision.Fp8) + (total - fp8) / gpu.PeakFlops(PeakPrecision.Bf16));

    /// <summary>GPU-hours to train on <paramref name="tokens"/> at utilisation <paramref name="mfu"/> of <paramref name="peakFlops"/> per GPU.</summary>
    public double GpuHours(double tokens, double peakFlops, double mfu) =>
        TrainingFlops(tokens) / (Utilisation(mfu) * Positive(peakFlops, "The peak FLOP/s") * 3600);

    /// <summary>The MFU that training on <paramref name="tokens"/> in <paramref name="gpuHours"/> implies.</summary>
    public double ImpliedMfu(double tokens, double gpuHours, double peakFlops) =>
        TrainingFlops(tokens) / (Positive(gpuHours, "The GPU-hours") * 3600 * Positive(peakFlops, "The peak FLOP/s"));

    /// <summary>Model FLOP/s each GPU sustained when <paramref name="tokens"/> took <paramref name="gpuHours"/>.</summary>
    public double AchievedFlopsPerGpu(double tokens, double gpuHours) =>
        TrainingFlops(tokens) / (Positive(gpuHours, "The GPU-hours") * 3600);

    /// <summary>Rejects a utilisation outside (0, 1].</summary>
    public static double Utilisation(double mfu) =>
        mfu is > 0 and <= 1 ? mfu : throw new InvalidInputException($"The MFU must be in (0, 1], got {mfu} (0.4 means 40%).");

    private static double Positive(double value, string what) =>
        value > 0 && double.IsFinite(value) ? value : throw new InvalidInputException($"{what} must be positive, got {value}.");
}
