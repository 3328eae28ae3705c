namespace SeekSharp.Training;

/// <summary>The loss of one step and its parts (un-weighted, as grads.json reports them).</summary>
public sealed record LossResult
{
    public double Total { get; init; }
    public double Main { get; init; }
    /// <summary>(1/D) Σ_k L^k, before λ.</summary>
    public double Mtp { get; init; }
    /// <summary>Σ over MoE layers of the mean over sequences of Σ_i f_i·P_i, before α.</summary>
    public double Balance { get; init; }
    /// <summary>Tokens scored by the main loss.</summary>
    public int Tokens { get; init; }
}
