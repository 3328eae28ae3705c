using System.Runtime.CompilerServices;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// The IEEE binary16 block scales: decoding on the hot path without a call, and the two roundings the quantisers need.
/// </summary>
/// <remarks>
/// .NET's <c>(float)Half</c> is a function call (no F16C intrinsic is exposed), too slow once per 32 weights. For a
/// finite F16 the exponent and mantissa bits, moved 13 places left, form a float32 that is the value times 2^−112
/// (normal and subnormal alike), so one multiply by 2^112 restores it exactly. Infinities and NaNs would decode wrongly,
/// which is why <see cref="QuantizedMatrix"/> never holds a non-finite scale.
/// </remarks>
internal static class HalfScale
{
    private const float TwoPow112 = 5.192297e33f;

    /// <summary>The value of a finite F16 <paramref name="bits"/>, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits)
    {
        uint magnitude = (bits & 0x7FFFu) << 13, sign = (bits & 0x8000u) << 16;
        return BitConverter.UInt32BitsToSingle(magnitude | sign) * TwoPow112;
    }

    /// <summary>Whether <paramref name="bits"/> is a finite F16 (exponent not all ones).</summary>
    public static bool IsFinite(ushort bits) => (bits & 0x7C00) != 0x7C00;

    /// <summary>The nearest F16 (ties to even); overflows to infinity.</summary>
    public static ushort Nearest(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>
    /// The F16 of smallest magnitude that is ≥ |<paramref name="value"/>|, with its sign; infinity when it exceeds 65504.
    /// Rounding the scale up keeps every weight inside the code range, so the error bound d/2 needs no clamping.
    /// </summary>
    public static ushort AwayFromZero(float value)
    {
        ushort bits = Nearest(value);
        // Moving one code away from zero is the next F16 up in magnitude, across binades and out of subnormals alike.
        if (Math.Abs(ToSingle(bits)) < Math.Abs(value) && IsFinite(bits)) bits++;
        return bits;
    }
}
