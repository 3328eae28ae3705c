namespace SeekSharp.Training;

/// <summary>FLOPs per token of the main model and of its MTP modules, kept apart so reports can show both.</summary>
/// <param name="Main">Embedding (free), decoder layers, final norm (free) and head.</param>
/// <param name="Mtp">All MTP modules together: eh_proj, the module's decoder block and its pass through the shared head.</param>
public sealed record TokenFlops(FlopsBreakdown Main, FlopsBreakdown Mtp)
{
    public double Total => Main.Total + Mtp.Total;

    /// <summary>What DeepSeek-V3's recipe runs in FP8; the rest (<see cref="Total"/> minus this) runs in BF16.</summary>
    public double Fp8Eligible => Main.Fp8Eligible + Mtp.Fp8Eligible;

    public TokenFlops Times(double k) => new(Main.Times(k), Mtp.Times(k));
}
