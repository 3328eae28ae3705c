namespace SeekSharp.Training;

/// <summary>The shape of the learning rate after warm-up.</summary>
public enum ScheduleShape
{
    /// <summary>Cosine from the peak to the minimum over the steps after warm-up.</summary>
    Cosine,
    /// <summary>The report's shape: constant at the peak, then cosine to the minimum from <see cref="LearningRateSchedule.DecayStart"/>.</summary>
    ConstantThenCosine,
    Constant,
}

/// <summary>
/// Linear warm-up from 0 to the peak over <see cref="Warmup"/> steps, then the chosen shape (architecture.md §16: DeepSeek-V3 warms up
/// over 2K steps, holds 2.2e-4, then decays by cosine to 2.2e-5).
/// </summary>
public sealed record LearningRateSchedule
{
    public double Peak { get; init; } = 3e-4;
    public double Minimum { get; init; } = 3e-5;
    public int Warmup { get; init; }
    public int TotalSteps { get; init; } = 1000;
    public ScheduleShape Shape { get; init; } = ScheduleShape.Cosine;
    /// <summary>Fraction of the steps after which the constant-then-cosine shape starts decaying.</summary>
    public double DecayStart { get; init; } = 0.67;

    public void Validate()
    {
        if (!(Peak > 0)) throw new InvalidInputException($"--lr must be positive, got {Peak}.");
        if (!(Minimum >= 0) || Minimum > Peak) throw new InvalidInputException($"--min-lr must be between 0 and --lr, got {Minimum}.");
        if (Warmup < 0) throw new InvalidInputException($"--warmup must be 0 or more, got {Warmup}.");
        if (TotalSteps <= 0) throw new InvalidInputException($"--steps must be positive, got {TotalSteps}.");
        if (!(DecayStart >= 0 && DecayStart <= 1)) throw new InvalidInputException($"The decay start must be a fraction in [0, 1], got {DecayStart}.");
    }

    /// <summary>The learning rate for step <paramref name="step"/> (0-based: the update being taken).</summary>
    public double At(long step)
    {
        if (step < Warmup) return Peak * (step + 1) / Warmup;
        if (Shape == ScheduleShape.Constant) return Peak;
        long decayFrom = Shape == ScheduleShape.Cosine ? Warmup : Math.Max(Warmup, (long)Math.Round(DecayStart * TotalSteps));
        if (step < decayFrom) return Peak;
        long span = Math.Max(1, TotalSteps - decayFrom);
        double progress = Math.Min(1.0, (double)(step - decayFrom) / span);
        return Minimum + 0.5 * (Peak - Minimum) * (1 + Math.Cos(Math.PI * progress));
    }
}
