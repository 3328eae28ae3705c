namespace SeekSharp.Training;

/// <summary>One accelerator's dense tensor-core peaks (no 2:4 sparsity), in TFLOP/s.</summary>
/// <param name="Name">The short name the CLI takes (<c>--gpu h800</c>).</param>
/// <param name="Model">The product, spelled out.</param>
/// <param name="Bf16DenseTflops">Dense BF16 with FP32 accumulation.</param>
/// <param name="Fp8DenseTflops">Dense FP8 (E4M3/E5M2) with FP32 accumulation; null where the chip has no FP8 tensor cores.</param>
/// <param name="Note">Where the number comes from and what to watch for.</param>
public sealed record GpuSpec(string Name, string Model, double Bf16DenseTflops, double? Fp8DenseTflops, string Note)
{
    /// <summary>Peak FLOP/s (not TFLOP/s) at BF16 or FP8; <see cref="PeakPrecision.Mixed"/> depends on the model
    /// and is computed by <see cref="CostModel.PeakFlops"/>.</summary>
    public double PeakFlops(PeakPrecision precision) => precision switch
    {
        PeakPrecision.Bf16 => Bf16DenseTflops * 1e12,
        PeakPrecision.Fp8 => (Fp8DenseTflops ?? throw new InvalidInputException($"{Model} has no FP8 tensor cores; use --precision bf16.")) * 1e12,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "The mixed peak depends on the model: use CostModel.PeakFlops."),
    };
}
