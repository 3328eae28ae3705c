namespace SeekSharp.Formats;

/// <summary>
/// Element types a safetensors file can hold that SeekSharp reads. The member names are spelled exactly as in
/// safetensors headers ("F8_E4M3" is DeepSeek's FP8 weight type, PyTorch's <c>float8_e4m3fn</c>).
/// </summary>
public enum TensorDType
{
    /// <summary>IEEE binary64.</summary>
    F64,
    /// <summary>IEEE binary32: golden checkpoints, norms' and router biases' storage in DeepSeek-V3.</summary>
    F32,
    /// <summary>IEEE binary16.</summary>
    F16,
    /// <summary>bfloat16, the top half of a float32: DeepSeek-V3's embeddings, norms and router weights.</summary>
    BF16,
    /// <summary>FP8 E4M3 "fn" (no infinity, max 448): DeepSeek-V3's block-quantised projection weights.</summary>
    F8_E4M3,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>One byte per boolean.</summary>
    BOOL,
}

/// <summary>Facts about each <see cref="TensorDType"/>: size, header spelling, and whether it converts to float32.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeInBytes(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => 2,
        TensorDType.F8_E4M3 or TensorDType.I8 or TensorDType.U8 or TensorDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a TensorDType"),
    };

    /// <summary>True for the types <see cref="ITensorSource.ReadFloat32(string, Span{float})"/> converts: F64, F32, F16, BF16, F8_E4M3.</summary>
    public static bool IsFloatingPoint(this TensorDType dtype) =>
        dtype is TensorDType.F64 or TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F8_E4M3;

    /// <summary>The spelling in a safetensors header ("F32", "BF16", "F8_E4M3", ...).</summary>
    public static string ToHeaderString(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 => "F64",
        TensorDType.F32 => "F32",
        TensorDType.F16 => "F16",
        TensorDType.BF16 => "BF16",
        TensorDType.F8_E4M3 => "F8_E4M3",
        TensorDType.I64 => "I64",
        TensorDType.I32 => "I32",
        TensorDType.I16 => "I16",
        TensorDType.I8 => "I8",
        TensorDType.U8 => "U8",
        TensorDType.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a TensorDType"),
    };

    /// <summary>
    /// Parses a header dtype string. Exact, case-sensitive match only: <see cref="Enum.TryParse{TEnum}(string, out TEnum)"/>
    /// would also accept "f32" or "3", which no safetensors writer produces.
    /// </summary>
    public static bool TryParseHeaderString(string text, out TensorDType dtype)
    {
        TensorDType? parsed = text switch
        {
            "F64" => TensorDType.F64,
            "F32" => TensorDType.F32,
            "F16" => TensorDType.F16,
            "BF16" => TensorDType.BF16,
            "F8_E4M3" => TensorDType.F8_E4M3,
            "I64" => TensorDType.I64,
            "I32" => TensorDType.I32,
            "I16" => TensorDType.I16,
            "I8" => TensorDType.I8,
            "U8" => TensorDType.U8,
            "BOOL" => TensorDType.BOOL,
            _ => null,
        };
        dtype = parsed.GetValueOrDefault();
        return parsed.HasValue;
    }
}
