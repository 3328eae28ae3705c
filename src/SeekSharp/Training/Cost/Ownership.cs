namespace SeekSharp.Training;

/// <summary>
/// The assumptions of owning a GPU cluster instead of renting it (docs/cost.md, "Owning instead of renting"): its size,
/// what the servers cost and over how many years they are written off, what running them costs per year, and the
/// share of hours the GPUs do useful work. Every field is a flag of <c>seeksharp cost --ownership</c>.
/// </summary>
public sealed record OwnershipAssumptions
{
    /// <summary>GPUs in the cluster.</summary>
    public required int ClusterGpus { get; init; }
    /// <summary>Dollars for the servers (GPUs, hosts, networking), paid once.</summary>
    public required double CapitalCost { get; init; }
    /// <summary>Years over which the capital cost is written off (straight line).</summary>
    public required double AmortisationYears { get; init; }
    /// <summary>Dollars of operating cost (power, cooling, space, staff, maintenance) over <see cref="OperatingYears"/>.</summary>
    public required double OperatingCost { get; init; }
    /// <summary>Years that <see cref="OperatingCost"/> covers.</summary>
    public required double OperatingYears { get; init; }
    /// <summary>Share of the cluster's hours spent on useful work, in (0, 1]: idle and failed hours are paid for too.</summary>
    public required double Utilisation { get; init; }
    /// <summary>Where the figures come from, in words (a named scenario), or null for the user's own.</summary>
    public string? Source { get; init; }

    public void Validate()
    {
        if (ClusterGpus <= 0) throw new InvalidInputException($"--cluster-gpus must be positive, got {ClusterGpus}.");
        Check(CapitalCost >= 0, "--capital-cost", CapitalCost, "0 or more");
        Check(AmortisationYears > 0, "--amortisation-years", AmortisationYears, "positive");
        Check(OperatingCost >= 0, "--operating-cost", OperatingCost, "0 or more");
        Check(OperatingYears > 0, "--operating-years", OperatingYears, "positive");
        Check(Utilisation > 0 && Utilisation <= 1, "--utilisation", Utilisation, "in (0, 1]");
    }

    private static void Check(bool ok, string flag, double value, string what)
    {
        if (!ok || !double.IsFinite(value)) throw new InvalidInputException($"{flag} must be {what}, got {value}.");
    }

    /// <summary>
    /// The analysts' view of DeepSeek's own fleet: about 50,000 Hopper GPUs, about $1.6B of servers and about $944M of
    /// operating cost (SemiAnalysis, "DeepSeek Debates", January 2025). The period of the operating cost and the write-off
    /// are our assumptions: both spread over 4 years, the usual life of GPU servers; utilisation 80%.
    /// </summary>
    public static OwnershipAssumptions Analysts2025 { get; } = new()
    {
        ClusterGpus = 50_000,
        CapitalCost = 1.6e9,
        AmortisationYears = 4,
        OperatingCost = 944e6,
        OperatingYears = 4,
        Utilisation = 0.8,
        Source = "SemiAnalysis, \"DeepSeek Debates\" (January 2025): ~50,000 Hopper GPUs, ~$1.6B server capital cost, ~$944M operating cost; "
            + "4-year write-off, the operating cost spread over the same 4 years, and 80% utilisation are SeekSharp's assumptions",
    };

    public static IReadOnlyDictionary<string, OwnershipAssumptions> Scenarios { get; } =
        new Dictionary<string, OwnershipAssumptions> { ["analysts-2025"] = Analysts2025 };
}

/// <summary>What owning costs per year and per useful GPU-hour, and one training run priced both ways.</summary>
public sealed record OwnershipCost(OwnershipAssumptions Assumptions, double RunGpuHours, double RentalPricePerGpuHour)
{
    public const double HoursPerYear = 365.25 * 24;

    /// <summary>Capital cost written off per year.</summary>
    public double CapitalPerYear => Assumptions.CapitalCost / Assumptions.AmortisationYears;
    public double OperatingPerYear => Assumptions.OperatingCost / Assumptions.OperatingYears;
    public double TotalPerYear => CapitalPerYear + OperatingPerYear;
    /// <summary>GPU-hours of useful work the cluster delivers in a year.</summary>
    public double UsefulGpuHoursPerYear => Assumptions.ClusterGpus * HoursPerYear * Assumptions.Utilisation;
    /// <summary>What one useful GPU-hour costs the owner: a year's cost over a year's useful GPU-hours.</summary>
    public double EffectivePricePerGpuHour => TotalPerYear / UsefulGpuHoursPerYear;
    public double RentalDollars => RunGpuHours * RentalPricePerGpuHour;
    public double OwnershipDollars => RunGpuHours * EffectivePricePerGpuHour;
    /// <summary>The run's share of a year of the whole cluster's useful GPU-hours.</summary>
    public double ShareOfClusterYear => RunGpuHours / UsefulGpuHoursPerYear;
    /// <summary>The owner's whole yearly cost: what the cluster costs whatever runs on it.</summary>
    public double YearOfClusterDollars => TotalPerYear;
}
