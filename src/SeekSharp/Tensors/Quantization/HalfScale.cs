using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// The IEEE binary16 block scales: decoding on the hot path, and the two roundings the quantisers need.
/// </summary>
/// <remarks>
/// .NET's <c>(float)Half</c> is a function call (no F16C intrinsic is exposed), too slow once per 32 weights.
/// <see cref="ToSingle"/> is the bit trick: for a finite F16 the exponent and mantissa bits, moved 13 places left, form
/// a float32 that is the value times 2^−112, so one multiply by 2^112 restores it exactly. The kernels use
/// <see cref="Table"/> instead, all 65536 values precomputed (256 KiB, as ggml does without F16C): one load instead of
/// seven operations, and no float32 denormal on the way for subnormal F16 scales (slow on some CPUs). Infinities and
/// NaNs are not decoded correctly by the trick, which is why <see cref="QuantizedMatrix"/> never holds one.
/// </remarks>
internal static unsafe class HalfScale
{
    private const float TwoPow112 = 5.192297e33f;

    private static readonly float[] s_table = BuildTable();

    /// <summary>
    /// F16 bits → float32 value for every finite F16 (non-finite entries are NaN). The array is pinned (allocated on
    /// the pinned heap), so the pointer stays valid; read it into a local before a loop.
    /// </summary>
    public static float* Table => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(s_table));

    private static float[] BuildTable()
    {
        var table = GC.AllocateUninitializedArray<float>(65536, pinned: true);
        for (int bits = 0; bits < table.Length; bits++) table[bits] = IsFinite((ushort)bits) ? ToSingle((ushort)bits) : float.NaN;
        return table;
    }

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
