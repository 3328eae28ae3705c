using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Formats.Gguf;

/// <summary>The ggml tensor types SeekSharp reads and writes, with ggml's numbering (docs/gguf.md).</summary>
public enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q8_0 = 8,
}

/// <summary>Sizes of the supported ggml types.</summary>
public static class GgufTensorTypes
{
    /// <summary>Elements per block: 32 for the block-quantised types, 1 otherwise.</summary>
    public static int BlockSize(this GgufTensorType t) => t is GgufTensorType.Q4_0 or GgufTensorType.Q8_0 ? 32 : 1;

    /// <summary>Bytes per block: F32 4, F16 2, Q4_0 18 (F16 scale, 16 nibble bytes), Q8_0 34 (F16 scale, 32 bytes).</summary>
    public static int BlockBytes(this GgufTensorType t) => t switch
    {
        GgufTensorType.F32 => 4,
        GgufTensorType.F16 => 2,
        GgufTensorType.Q4_0 => 18,
        GgufTensorType.Q8_0 => 34,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a supported GGUF tensor type"),
    };

    public static bool IsKnown(uint value) => Enum.IsDefined((GgufTensorType)value);

    /// <summary>Bytes of a tensor of <paramref name="elements"/> values (a whole number of blocks).</summary>
    public static long ByteSize(this GgufTensorType t, long elements) => elements / t.BlockSize() * t.BlockBytes();

    public static QuantType? ToQuantType(this GgufTensorType t) => t switch
    {
        GgufTensorType.Q4_0 => QuantType.Q4_0,
        GgufTensorType.Q8_0 => QuantType.Q8_0,
        _ => null,
    };

    public static GgufTensorType FromQuantType(QuantType q) => q == QuantType.Q4_0 ? GgufTensorType.Q4_0 : GgufTensorType.Q8_0;
}
