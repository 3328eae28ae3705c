namespace SeekSharp.Training;

/// <summary>
/// L = L_main + λ·L_mtp + α·L_bal (the report's defaults λ = 0.3, α = 1e-4; docs/architecture.md §9.1, §10.2).
/// </summary>
public sealed record LossWeights
{
    public double MtpLambda { get; init; } = 0.3;
    public double BalanceAlpha { get; init; } = 1e-4;

    /// <summary>
    /// Sequence-wise balance (the report's complementary loss, per sequence) or batch-wise (the classic auxiliary
    /// loss of earlier MoE models, over all tokens of the step), for comparison runs.
    /// </summary>
    public BalanceLossScope BalanceScope { get; init; } = BalanceLossScope.Sequence;

    public void Validate()
    {
        if (!(MtpLambda >= 0) || double.IsInfinity(MtpLambda)) throw new InvalidInputException($"The MTP weight λ must be 0 or more, got {MtpLambda}.");
        if (!(BalanceAlpha >= 0) || double.IsInfinity(BalanceAlpha)) throw new InvalidInputException($"The balance weight α must be 0 or more, got {BalanceAlpha}.");
    }
}

/// <summary>Over which tokens the balance statistics f_i and P_i are taken.</summary>
public enum BalanceLossScope { Sequence, Batch }
