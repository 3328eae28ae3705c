using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Tensors.Weights;

/// <summary>How a weight matrix is stored. Compute is float32 for every format (docs/architecture.md, "Weights").</summary>
public enum WeightFormat
{
    /// <summary>IEEE float32: what training updates.</summary>
    F32,
    /// <summary>bfloat16, the top 16 bits of a float32.</summary>
    BF16,
    /// <summary>IEEE binary16.</summary>
    F16,
    /// <summary>
    /// DeepSeek-V3's release format: E4M3 bytes with one float32 scale per 128×128 block; a weight is exactly the
    /// float32 product e4m3(q) · scale.
    /// </summary>
    Fp8E4M3,
    /// <summary>ggml's Q8_0: blocks of 32 int8 with an F16 scale (<see cref="QuantType.Q8_0"/>).</summary>
    Q8_0,
    /// <summary>ggml's Q4_0: blocks of 32 4-bit codes with an F16 scale (<see cref="QuantType.Q4_0"/>).</summary>
    Q4_0,
}

public static class WeightFormats
{
    /// <summary>The name used in messages and on the command line: F32, BF16, F16, FP8, Q8_0, Q4_0.</summary>
    public static string Name(this WeightFormat format) => format == WeightFormat.Fp8E4M3 ? "FP8" : format.ToString();

    /// <summary>The dense element type of F32, BF16 and F16.</summary>
    public static ElementType? ElementType(this WeightFormat format) => format switch
    {
        WeightFormat.F32 => Tensors.ElementType.F32,
        WeightFormat.BF16 => Tensors.ElementType.BF16,
        WeightFormat.F16 => Tensors.ElementType.F16,
        _ => null,
    };

    public static WeightFormat ToWeightFormat(this ElementType type) => type switch
    {
        Tensors.ElementType.BF16 => WeightFormat.BF16,
        Tensors.ElementType.F16 => WeightFormat.F16,
        _ => WeightFormat.F32,
    };

    /// <summary>The block format of Q8_0 and Q4_0.</summary>
    public static QuantType? QuantType(this WeightFormat format) => format switch
    {
        WeightFormat.Q8_0 => Quantization.QuantType.Q8_0,
        WeightFormat.Q4_0 => Quantization.QuantType.Q4_0,
        _ => null,
    };

    public static WeightFormat ToWeightFormat(this QuantType type) => type == Quantization.QuantType.Q8_0 ? WeightFormat.Q8_0 : WeightFormat.Q4_0;
}
