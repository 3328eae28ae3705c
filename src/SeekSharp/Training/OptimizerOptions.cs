namespace SeekSharp.Training;

/// <summary>Which update rule a run uses.</summary>
public enum OptimizerKind { AdamW, Sgd }

/// <summary>The optimiser's hyperparameters (architecture.md §16: AdamW β1 0.9, β2 0.95, ε 1e-8, weight decay 0.1, clip 1.0).</summary>
public sealed record OptimizerOptions
{
    public OptimizerKind Kind { get; init; } = OptimizerKind.AdamW;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Decoupled (AdamW) or L2 (SGD) weight decay, applied to matrices and embeddings only, never to norms.</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Clip the global gradient norm to this; 0 turns clipping off.</summary>
    public double GradClip { get; init; } = 1.0;

    public void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new InvalidInputException($"beta1 must be in [0, 1), got {Beta1}.");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new InvalidInputException($"beta2 must be in [0, 1), got {Beta2}.");
        if (!(Epsilon > 0)) throw new InvalidInputException($"epsilon must be positive, got {Epsilon}.");
        if (!(WeightDecay >= 0)) throw new InvalidInputException($"--weight-decay must be 0 or more, got {WeightDecay}.");
        if (!(GradClip >= 0)) throw new InvalidInputException($"--grad-clip must be 0 (off) or more, got {GradClip}.");
    }
}
