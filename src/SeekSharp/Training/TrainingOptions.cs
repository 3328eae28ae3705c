using System.Text.Json.Serialization;

namespace SeekSharp.Training;

/// <summary>What a training step does when its loss or gradients hold a NaN or an infinity.</summary>
public enum NonFinitePolicy
{
    /// <summary>Stop the run with a <see cref="TrainingDivergedException"/> naming the step and what was not finite; the newest checkpoint is kept.</summary>
    Stop,
    /// <summary>Leave the weights, moments and expert biases as they were, halve the learning rate for the rest of the run, and go on.</summary>
    Skip,
}

/// <summary>Everything that defines a training run; saved as run.json so that --resume continues the same run.</summary>
public sealed record TrainingOptions
{
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 4;
    public int SeqLen { get; init; } = 256;
    public LearningRateSchedule Schedule { get; init; } = new();
    public OptimizerOptions Optimizer { get; init; } = new();
    public LossWeights Loss { get; init; } = new();
    /// <summary>γ of the auxiliary-loss-free bias update (docs/architecture.md §10.1); 0 turns it off.</summary>
    public double BiasUpdateSpeed { get; init; } = 0.001;
    public ulong Seed { get; init; }
    /// <summary>Validation loss every this many steps (and at the end); 0 = never.</summary>
    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 8;
    /// <summary>A checkpoint every this many steps (and always at the end); 0 = only at the end.</summary>
    public int SaveEvery { get; init; } = 100;
    public int KeepCheckpoints { get; init; } = 3;
    public double ValidationFraction { get; init; } = 0.05;
    /// <summary>The training data (see <see cref="Data.DatasetLoader"/>).</summary>
    public string DataPath { get; init; } = "";
    /// <summary>DataPath is chat JSONL (<c>--chat</c>, <see cref="Data.ChatDataset"/>): loss on the assistant's tokens only.</summary>
    public bool ChatData { get; init; }
    /// <summary>
    /// Float32 GFLOP/s to measure MFU against (0: measured with GEMMs at start, <see cref="GemmPeak"/>); a step that
    /// runs faster raises the peak (<see cref="MfuMeter"/>).
    /// </summary>
    public double PeakGflops { get; init; }
    /// <summary>What a step whose loss or gradients hold a NaN or infinity does (docs/training.md, "NaN and infinity").</summary>
    public NonFinitePolicy OnNonFinite { get; init; } = NonFinitePolicy.Stop;
    /// <summary>With <see cref="NonFinitePolicy.Skip"/>: the most steps a run skips; the next non-finite step stops it.</summary>
    public int MaxSkippedSteps { get; init; } = 5;

    public void Validate()
    {
        if (Steps <= 0) throw new InvalidInputException($"--steps must be positive, got {Steps}.");
        if (BatchSize <= 0) throw new InvalidInputException($"--batch-size must be positive, got {BatchSize}.");
        if (SeqLen < 2) throw new InvalidInputException($"--seq-len must be at least 2, got {SeqLen}.");
        if (!(BiasUpdateSpeed >= 0)) throw new InvalidInputException($"--bias-update-speed must be 0 or more, got {BiasUpdateSpeed}.");
        if (EvalEvery < 0 || SaveEvery < 0) throw new InvalidInputException("--eval-every and --save-every must be 0 or more.");
        if (KeepCheckpoints < 1) throw new InvalidInputException($"--keep must be at least 1, got {KeepCheckpoints}.");
        if (!(PeakGflops >= 0) || double.IsInfinity(PeakGflops)) throw new InvalidInputException($"--peak-gflops must be positive, got {PeakGflops}.");
        if (MaxSkippedSteps < 0) throw new InvalidInputException($"--max-skipped-steps must be 0 or more, got {MaxSkippedSteps}.");
        if (!Enum.IsDefined(OnNonFinite)) throw new InvalidInputException($"--on-nonfinite must be stop or skip, got {OnNonFinite}.");
        if (string.IsNullOrEmpty(DataPath)) throw new InvalidInputException("A training run needs --data or --chat.");
        Schedule.Validate();
        Optimizer.Validate();
        Loss.Validate();
    }

    [JsonIgnore]
    public static System.Text.Json.JsonSerializerOptions Json { get; } = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };
}
