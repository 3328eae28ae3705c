using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// Conversions between float32 and the float types weights are stored in: BF16, F16, F64 and FP8 E4M3. Scalar methods
/// are the reference; the span methods are the bulk path (vectorised where a checkpoint load spends its time: BF16 and
/// E4M3 to float32). Sources and destinations of a span method must not overlap.
/// </summary>
public static class FloatFormats
{
    /// <summary>Largest finite E4M3 value (0x7E): 1.75 · 2^8.</summary>
    public const float E4M3MaxValue = 448f;

    /// <summary>The byte float32 NaN converts to: E4M3 has no infinity, and its only NaNs are 0x7F and 0xFF.</summary>
    public const byte E4M3NaN = 0x7F;

    private static readonly float[] E4M3Table = BuildE4M3Table();

    // 2^120 = 2^(127 − 7), the gap between float32's exponent bias and E4M3's (see DecodeE4M3).
    private static readonly float ExponentBiasGap = MathF.ScaleB(1f, 120);

    // ---------------------------------------------------------------- BF16

    /// <summary>BF16 is the top half of a float32, so widening is a shift and exact.</summary>
    public static float BFloat16ToFloat32(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>
    /// Rounds to the nearest BF16, ties to even (what PyTorch's <c>.to(torch.bfloat16)</c> does); overflow becomes
    /// ±infinity. A NaN stays a NaN with its sign: truncating a NaN whose payload sits in the low 16 bits would give
    /// infinity, so the quiet bit is set.
    /// </summary>
    public static ushort Float32ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        // Adding 0x7FFF plus the lowest kept bit rounds half to even; a carry correctly bumps the exponent.
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>Bulk <see cref="BFloat16ToFloat32(ushort)"/>: widen each 16-bit lane to 32 bits and shift left by 16.</summary>
    public static void BFloat16ToFloat32(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        ref ushort src = ref MemoryMarshal.GetReference(source);
        ref uint dst = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
        int n = source.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                (lower << 16).StoreUnsafe(ref dst, (nuint)i);
                (upper << 16).StoreUnsafe(ref dst, (nuint)(i + Vector256<uint>.Count));
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                var (lower, upper) = Vector128.Widen(Vector128.LoadUnsafe(ref src, (nuint)i));
                (lower << 16).StoreUnsafe(ref dst, (nuint)i);
                (upper << 16).StoreUnsafe(ref dst, (nuint)(i + Vector128<uint>.Count));
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = (uint)Unsafe.Add(ref src, i) << 16;
    }

    /// <summary>Bulk <see cref="Float32ToBFloat16(float)"/>, same rounding and NaN rule.</summary>
    public static void Float32ToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        CheckLengths(source.Length, destination.Length);
        ref uint src = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(source));
        ref ushort dst = ref MemoryMarshal.GetReference(destination);
        int n = source.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var lower = RoundToBFloat16(Vector256.LoadUnsafe(ref src, (nuint)i));
                var upper = RoundToBFloat16(Vector256.LoadUnsafe(ref src, (nuint)(i + Vector256<uint>.Count)));
                Vector256.Narrow(lower, upper).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = Float32ToBFloat16(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref src, i)));
    }

    private static Vector256<uint> RoundToBFloat16(Vector256<uint> bits)
    {
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        var asFloat = bits.AsSingle();
        var isNaN = ~Vector256.Equals(asFloat, asFloat).AsUInt32();
        return Vector256.ConditionalSelect(isNaN, (bits >> 16) | Vector256.Create(0x40u), rounded);
    }

    // ---------------------------------------------------------------- F16 and F64

    /// <summary>IEEE half to float32 (exact), via <see cref="TensorPrimitives"/>' vectorised conversion.</summary>
    public static void HalfToFloat32(ReadOnlySpan<Half> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        TensorPrimitives.ConvertToSingle(source, destination);
    }

    /// <summary>Float32 to IEEE half, round to nearest even; beyond ±65504 gives ±infinity, as <see cref="Half"/> does.</summary>
    public static void Float32ToHalf(ReadOnlySpan<float> source, Span<Half> destination)
    {
        CheckLengths(source.Length, destination.Length);
        TensorPrimitives.ConvertToHalf(source, destination);
    }

    /// <summary>Float64 to float32, round to nearest even. F64 checkpoints are rare, so this is a plain loop.</summary>
    public static void Float64ToFloat32(ReadOnlySpan<double> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        for (int i = 0; i < source.Length; i++) destination[i] = (float)source[i];
    }

    /// <summary>Float32 to float64 (exact).</summary>
    public static void Float32ToFloat64(ReadOnlySpan<float> source, Span<double> destination)
    {
        CheckLengths(source.Length, destination.Length);
        for (int i = 0; i < source.Length; i++) destination[i] = source[i];
    }

    // ---------------------------------------------------------------- FP8 E4M3 ("fn": no infinity, max 448)

    /// <summary>Decodes one E4M3 byte through the 256-entry table (docs/architecture.md §14); 0x7F and 0xFF are NaN.</summary>
    public static float E4M3ToFloat32(byte code) => E4M3Table[code];

    /// <summary>
    /// Encodes to E4M3, rounding to the nearest representable value with ties to even; magnitudes beyond 448
    /// (infinity included) saturate to ±448 (0x7E / 0xFE), and NaN becomes 0x7F. Saturating rather than producing NaN
    /// is what a block quantiser wants: its scaled values are ≤ 448 except for rounding in the last bit.
    /// </summary>
    public static byte Float32ToE4M3(float value)
    {
        if (float.IsNaN(value)) return E4M3NaN;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        int sign = (int)(bits >> 24) & 0x80;
        float magnitude = MathF.Abs(value);
        if (magnitude >= E4M3MaxValue) return (byte)(sign | 0x7E);
        if (magnitude < 0.015625f)
        {
            // Below 2^-6 E4M3 is subnormal: a multiple of 2^-9. A result of 8 is 2^-6, whose code is also 8 (e=1, m=0).
            return (byte)(sign | (int)MathF.Round(magnitude * 512f, MidpointRounding.ToEven));
        }
        // Normal: keep 3 of float32's 23 mantissa bits, rounding half to even; a carry moves into the exponent.
        uint magnitudeBits = bits & 0x7FFF_FFFFu;
        uint rounded = (magnitudeBits + 0x7FFFFu + ((magnitudeBits >> 20) & 1)) >> 20; // float32 exponent << 3 | mantissa
        return (byte)(sign | (int)(rounded - (120u << 3)));                               // rebias 127 → 7
    }

    /// <summary>Bulk <see cref="E4M3ToFloat32(byte)"/>.</summary>
    public static void E4M3ToFloat32(ReadOnlySpan<byte> source, Span<float> destination) =>
        E4M3ToFloat32(source, destination, 1f);

    /// <summary>
    /// Decodes E4M3 bytes and multiplies each by <paramref name="scale"/>: one block row of an FP8 weight. Equal, bit
    /// for bit, to <c>E4M3ToFloat32(code) * scale</c>.
    /// </summary>
    public static void E4M3ToFloat32(ReadOnlySpan<byte> source, Span<float> destination, float scale)
    {
        CheckLengths(source.Length, destination.Length);
        ref byte src = ref MemoryMarshal.GetReference(source);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        int n = source.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var scales = Vector256.Create(scale);
            for (; i <= n - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                var (low16, high16) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                var (c0, c1) = Vector256.Widen(low16);
                var (c2, c3) = Vector256.Widen(high16);
                (DecodeE4M3(c0) * scales).StoreUnsafe(ref dst, (nuint)i);
                (DecodeE4M3(c1) * scales).StoreUnsafe(ref dst, (nuint)(i + 8));
                (DecodeE4M3(c2) * scales).StoreUnsafe(ref dst, (nuint)(i + 16));
                (DecodeE4M3(c3) * scales).StoreUnsafe(ref dst, (nuint)(i + 24));
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = E4M3Table[Unsafe.Add(ref src, i)] * scale;
    }

    /// <summary>Bulk <see cref="Float32ToE4M3(float)"/>. Used when writing, not when loading, so it stays scalar.</summary>
    public static void Float32ToE4M3(ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckLengths(source.Length, destination.Length);
        for (int i = 0; i < source.Length; i++) destination[i] = Float32ToE4M3(source[i]);
    }

    // E4M3's exponent and mantissa (bits 6..0), moved to float32's positions (<< 20), read as a float32 that is
    // 2^120 too small, because float32's exponent bias is 127 and E4M3's is 7. Subnormal codes (exponent 0) become
    // float32 subnormals with the same factor, so one exact multiply by 2^120 decodes every code. Only 0x7F/0xFF
    // (NaN) need a select. Matches the table bit for bit (tested over all 256 codes).
    private static Vector256<float> DecodeE4M3(Vector256<uint> code)
    {
        var magnitude = code & Vector256.Create(0x7Fu);
        var value = (magnitude << 20).AsSingle() * Vector256.Create(ExponentBiasGap);
        var signed = (value.AsUInt32() | ((code & Vector256.Create(0x80u)) << 24)).AsSingle();
        var isNaN = Vector256.Equals(magnitude, Vector256.Create(0x7Fu)).AsSingle();
        return Vector256.ConditionalSelect(isNaN, Vector256.Create(float.NaN), signed);
    }

    // The definition from docs/architecture.md §14, kept readable: the table is the reference the fast paths are tested against.
    private static float[] BuildE4M3Table()
    {
        var table = new float[256];
        for (int code = 0; code < 256; code++)
        {
            int exponent = (code >> 3) & 0xF, mantissa = code & 7;
            float magnitude = exponent == 0
                ? MathF.ScaleB(mantissa / 8f, -6)               // subnormal: 2^-6 · m/8
                : MathF.ScaleB(1f + mantissa / 8f, exponent - 7); // normal: 2^(e-7) · (1 + m/8)
            if (exponent == 15 && mantissa == 7) magnitude = float.NaN;
            table[code] = (code & 0x80) != 0 ? -magnitude : magnitude;
        }
        return table;
    }

    private static void CheckLengths(int sourceLength, int destinationLength)
    {
        if (sourceLength != destinationLength)
            throw new ArgumentException($"source has {sourceLength} elements but destination has {destinationLength}");
    }
}
