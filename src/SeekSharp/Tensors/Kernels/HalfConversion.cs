using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// Widening of 16-bit floats (BF16, F16) to float32, scalar and eight lanes at a time.
/// BF16 is the top half of a float32, so widening is a shift. F16 uses the exponent-rebias trick:
/// move exponent and mantissa into place and multiply by 2^112, which also handles subnormals exactly;
/// infinities and NaNs get the all-ones exponent explicitly.
/// </summary>
public static unsafe class HalfConversion
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16ToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Float32 to BF16, round to nearest even; NaN stays NaN (the checkpoint writer's rule).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBf16(float value) => FloatFormats.Float32ToBFloat16(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToF16(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>Eight BF16 values at <paramref name="src"/> widened to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadBf16x8(ushort* src)
    {
        var wide = Avx2.ConvertToVector256Int32(src);                 // zero-extend u16 → i32
        return Avx2.ShiftLeftLogical(wide, 16).AsSingle();
    }

    /// <summary>Eight F16 values at <paramref name="src"/> widened to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadF16x8(ushort* src)
    {
        var h = Avx2.ConvertToVector256Int32(src);                    // [0, 65535]
        var magnitude = Avx2.ShiftLeftLogical(Avx2.And(h, Vector256.Create(0x7FFF)), 13);
        var sign = Avx2.ShiftLeftLogical(Avx2.And(h, Vector256.Create(0x8000)), 16);
        var scaled = Avx.Multiply(magnitude.AsSingle(), Vector256.Create(5.192297e33f)); // 2^112
        // Exponent 31 (inf/NaN): force the float32 exponent to all ones, keep the mantissa.
        var isSpecial = Avx2.CompareEqual(Avx2.And(h, Vector256.Create(0x7C00)), Vector256.Create(0x7C00));
        var special = Avx2.Or(magnitude, Vector256.Create(0x7F800000));
        var result = Avx2.BlendVariable(scaled.AsInt32(), special, isSpecial);
        return Avx2.Or(result, sign).AsSingle();
    }

    /// <summary>Widens <paramref name="count"/> 16-bit values to float32.</summary>
    public static void ToSingle(ElementType type, ushort* src, float* dst, int count)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            if (type == ElementType.BF16)
                for (; i + 8 <= count; i += 8) Avx.Store(dst + i, LoadBf16x8(src + i));
            else
                for (; i + 8 <= count; i += 8) Avx.Store(dst + i, LoadF16x8(src + i));
        }
        if (type == ElementType.BF16)
            for (; i < count; i++) dst[i] = Bf16ToSingle(src[i]);
        else
            for (; i < count; i++) dst[i] = F16ToSingle(src[i]);
    }

    // Whole spans: the checkpoint code's vectorised conversions (one implementation of each rounding rule).
    public static void ToSingle(ElementType type, ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("Destination too short.", nameof(dst));
        if (type == ElementType.BF16) FloatFormats.BFloat16ToFloat32(src, dst[..src.Length]);
        else FloatFormats.HalfToFloat32(System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, Half>(src), dst[..src.Length]);
    }

    public static void FromSingle(ElementType type, ReadOnlySpan<float> src, Span<ushort> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("Destination too short.", nameof(dst));
        if (type == ElementType.BF16) FloatFormats.Float32ToBFloat16(src, dst[..src.Length]);
        else FloatFormats.Float32ToHalf(src, System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, Half>(dst[..src.Length]));
    }
}
