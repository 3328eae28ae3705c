using System.Numerics;
using System.Runtime.InteropServices;

namespace SeekSharp.Formats;

/// <summary>
/// Finds a NaN or infinity in stored tensor bytes or float32 values, vectorised (a compare per 32 bytes on AVX2), so
/// that a corrupt or diverged checkpoint is named at load instead of turning every output into NaN.
/// </summary>
public static class FiniteCheck
{
    /// <summary>The index of the first NaN or ±infinity in <paramref name="values"/>, or −1.</summary>
    public static long FindNonFinite(ReadOnlySpan<float> values) =>
        FindAllOnes(MemoryMarshal.Cast<float, uint>(values), 0x7F80_0000u);

    /// <summary>
    /// The index (in elements) of the first NaN or ±infinity in <paramref name="bytes"/> stored as <paramref name="dtype"/>,
    /// or −1; always −1 for integer types. F8_E4M3 ("fn") has no infinity; its NaN is S.1111.111.
    /// </summary>
    public static long FindNonFinite(TensorDType dtype, ReadOnlySpan<byte> bytes) => dtype switch
    {
        TensorDType.F64 => FindAllOnes(MemoryMarshal.Cast<byte, ulong>(bytes), 0x7FF0_0000_0000_0000ul),
        TensorDType.F32 => FindAllOnes(MemoryMarshal.Cast<byte, uint>(bytes), 0x7F80_0000u),
        TensorDType.BF16 => FindAllOnes(MemoryMarshal.Cast<byte, ushort>(bytes), (ushort)0x7F80),
        TensorDType.F16 => FindAllOnes(MemoryMarshal.Cast<byte, ushort>(bytes), (ushort)0x7C00),
        TensorDType.F8_E4M3 => FindAllOnes(bytes, (byte)0x7F),
        _ => -1,
    };

    /// <summary>
    /// Scans a tensor of <paramref name="source"/> in chunks (any size, no copy) and throws a <see cref="CheckpointException"/>
    /// naming it, and the first bad element's position, if it holds a NaN or infinity.
    /// </summary>
    public static void Check(ITensorSource source, TensorInfo info)
    {
        int size = info.DType.SizeInBytes();
        const int chunkBytes = 1 << 26;
        for (long offset = 0; offset < info.ByteLength; offset += chunkBytes)
        {
            int count = (int)Math.Min(chunkBytes, info.ByteLength - offset);
            long at = FindNonFinite(info.DType, source.GetBytes(info.Name, offset, count));
            if (at >= 0) throw NonFinite(source.Location, info, offset / size + at, null);
        }
    }

    /// <summary>Throws a <see cref="CheckpointException"/> naming the tensor if <paramref name="values"/> (read from it) hold a NaN or infinity.</summary>
    public static void Check(string location, TensorInfo info, ReadOnlySpan<float> values)
    {
        long at = FindNonFinite(values);
        if (at >= 0) throw NonFinite(location, info, at, float.IsNaN(values[(int)at]) ? "a NaN" : values[(int)at] > 0 ? "+infinity" : "-infinity");
    }

    private static CheckpointException NonFinite(string location, TensorInfo info, long element, string? value)
    {
        string where = info.Shape.Length == 2 && info.Shape[1] > 0 ? $" (row {element / info.Shape[1]}, column {element % info.Shape[1]})" : "";
        return new CheckpointException(
            $"{location}: tensor '{info.Name}' {info.DType.ToHeaderString()} {ShapeMath.Format(info.Shape)} holds {(value is null ? "a NaN or infinity" : value)} at element {element}{where}: the checkpoint is corrupt, or was saved from a run that diverged.");
    }

    // The first element whose bits under `mask` are all ones (exponent all ones: NaN or infinity), or −1.
    private static long FindAllOnes<T>(ReadOnlySpan<T> data, T mask) where T : unmanaged, IBinaryInteger<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && data.Length >= Vector<T>.Count)
        {
            var m = new Vector<T>(mask);
            var vectors = MemoryMarshal.Cast<T, Vector<T>>(data);
            for (int v = 0; v < vectors.Length; v++)
            {
                if (Vector.EqualsAny(vectors[v] & m, m))
                {
                    i = v * Vector<T>.Count;
                    break;
                }
                i = (v + 1) * Vector<T>.Count;
            }
        }
        for (; i < data.Length; i++)
            if ((data[i] & mask) == mask)
                return i;
        return -1;
    }
}
