namespace SeekSharp.Training;

/// <summary>
/// Model FLOPs utilisation of training steps: the model FLOP/s a step achieved (tokens/s × training FLOPs per token)
/// over a peak FLOP/s. The peak is the larger of a baseline (<see cref="GemmPeak.Measure"/>, or the run's
/// <see cref="TrainingOptions.PeakGflops"/>) and the best rate any step has achieved so far, so MFU ≤ 1 by construction.
/// </summary>
/// <remarks>
/// A measured baseline can only err low: the best of a few short GEMMs misses a machine's best moments when another
/// process shares the cores or the clock has not ramped up. A step that beats it proves the machine can do more, so
/// that rate becomes the peak: the step reads 100% and later steps are measured against it. Earlier steps keep the
/// figure they were given against the lower peak.
/// </remarks>
public sealed class MfuMeter
{
    /// <summary>The peak the meter started from, in FLOP/s.</summary>
    public double BaselinePeakFlops { get; }

    /// <summary>The peak now: max(baseline, best achieved rate so far), in FLOP/s.</summary>
    public double PeakFlops { get; private set; }

    public MfuMeter(double baselinePeakFlops)
    {
        if (!(baselinePeakFlops > 0) || double.IsInfinity(baselinePeakFlops))
            throw new InvalidInputException($"The peak FLOP/s must be positive and finite, got {baselinePeakFlops}.");
        BaselinePeakFlops = PeakFlops = baselinePeakFlops;
    }

    /// <summary>The MFU of a step that achieved <paramref name="achievedFlops"/> FLOP/s, in [0, 1]; a step faster than the peak raises it.</summary>
    public double Observe(double achievedFlops)
    {
        if (!(achievedFlops >= 0) || double.IsInfinity(achievedFlops)) return 0;   // a step too short to time
        PeakFlops = Math.Max(PeakFlops, achievedFlops);
        return achievedFlops / PeakFlops;
    }
}
