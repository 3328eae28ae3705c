namespace SeekSharp.Training;

/// <summary>Which tensor-core peak a utilisation is measured against.</summary>
public enum PeakPrecision
{
    /// <summary>Dense BF16 (FP32 accumulation): the usual MFU denominator.</summary>
    Bf16,
    /// <summary>Dense FP8: the roof if every matmul ran in FP8.</summary>
    Fp8,
    /// <summary>DeepSeek-V3's recipe (architecture.md §16): decoder-block linear layers in FP8, attention scores, router, head
    /// and eh_proj in BF16. The peak is the harmonic blend: total FLOPs over the time each part takes at its own peak.</summary>
    Mixed,
}
