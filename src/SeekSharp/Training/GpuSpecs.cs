namespace SeekSharp.Training;

/// <summary>
/// Dense peak throughputs of the GPUs people train on, from NVIDIA's datasheets and whitepapers. Datasheets print
/// tensor-core numbers "with sparsity" (2:4 structured), twice the dense rate that ordinary training reaches; the table
/// holds the dense halves.
/// </summary>
public static class GpuSpecs
{
    public static IReadOnlyList<GpuSpec> All { get; } =
    [
        new("h800", "NVIDIA H800 SXM5", 989.5, 1979,
            "The H100 SXM's GH100 with the same tensor throughput; NVLink cut to 400 GB/s and FP64 to about 1 TFLOP/s for export rules. DeepSeek-V3 trained on 2048 of them."),
        new("h100", "NVIDIA H100 SXM5", 989.5, 1979,
            "Datasheet: 1,979 BF16 and 3,958 FP8 TFLOP/s with sparsity; dense is half."),
        new("h100-pcie", "NVIDIA H100 PCIe", 756.5, 1513,
            "Datasheet: 1,513 BF16 and 3,026 FP8 TFLOP/s with sparsity; dense is half (114 SMs, 350 W)."),
        new("h200", "NVIDIA H200 SXM", 989.5, 1979,
            "Same GH100 compute as the H100 SXM; 141 GB of HBM3e at 4.8 TB/s."),
        new("a100", "NVIDIA A100 (SXM4 or PCIe)", 312, null,
            "Datasheet: 312 BF16 TFLOP/s dense (624 with sparsity); Ampere has no FP8 tensor cores."),
        new("a800", "NVIDIA A800", 312, null,
            "The A100 with NVLink cut to 400 GB/s; same compute, no FP8."),
        new("4090", "NVIDIA GeForce RTX 4090", 165.2, 330.3,
            "Ada whitepaper, with FP32 accumulation (what training uses); GeForce runs FP16-accumulate at twice that."),
    ];

    /// <summary>Other spellings people type.</summary>
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["h100-sxm"] = "h100",
        ["h800-sxm"] = "h800",
        ["h200-sxm"] = "h200",
        ["rtx4090"] = "4090",
        ["rtx-4090"] = "4090",
    };

    public static IEnumerable<string> Names => All.Select(g => g.Name);

    /// <summary>The GPU called <paramref name="name"/> (case-insensitive); an unknown name lists the known ones.</summary>
    public static GpuSpec Get(string name)
    {
        var key = Aliases.TryGetValue(name.Trim(), out var canonical) ? canonical : name.Trim();
        return All.FirstOrDefault(g => string.Equals(g.Name, key, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidInputException($"Unknown GPU '{name}'. Known GPUs: {string.Join(", ", Names)} (or give --peak-tflops).");
    }
}
