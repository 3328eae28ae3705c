using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// The integer dot product of one weight block with one int8 activation block, as 8 int32 lanes whose sum is the dot
/// product (the caller scales by d_w·s_x and reduces the lanes later). AVX2 has no signed×signed byte multiply, only
/// <c>pmaddubsw</c> (unsigned × signed, adjacent pairs summed to int16), hence the two shapes below.
/// </summary>
internal static class BlockDot
{
    private static readonly Vector256<short> Ones16 = Vector256.Create((short)1);

    /// <summary>
    /// Q8_0 · q8: Σ w·x = Σ |x|·(w·sign x). <c>psignb</c> moves the sign of x onto w (zeroing w where x = 0), so the
    /// unsigned operand is |x|. Pair sums reach at most 2·127·127 = 32258 and never saturate int16: this is why neither
    /// side may hold −128.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Q8(Vector256<sbyte> w, Vector256<sbyte> x, Vector256<byte> absX)
    {
        var products = Avx2.MultiplyAddAdjacent(absX, Avx2.Sign(w, x));   // 16 × int16
        return Avx2.MultiplyAddAdjacent(products, Ones16);                // 8 × int32
    }

    /// <summary>
    /// Q4_0 · q8: Σ (c − 8)·x = Σ c·x − 8·Σx. The codes c in [0, 15] are the unsigned operand as they are; subtracting
    /// Σx from each of the 8 lanes takes 8·Σx off their total.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Q4(Vector256<byte> codes, Vector256<sbyte> x, Vector256<int> sumX)
    {
        var products = Avx2.MultiplyAddAdjacent(codes, x);                // ≤ 2·15·127 per pair
        return Avx2.Subtract(Avx2.MultiplyAddAdjacent(products, Ones16), sumX);
    }

    /// <summary>The 32 codes of a Q4_0 block in element order: low nibbles are elements 0–15, high nibbles 16–31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<byte> LoadQ4Codes(byte* nibbles)
    {
        var packed = Sse2.LoadVector128(nibbles);
        var mask = Vector128.Create((byte)0x0F);
        var low = Sse2.And(packed, mask);
        var high = Sse2.And(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), mask);
        return Vector256.Create(low, high);
    }

    /// <summary>The F16 scale at the start of a block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Scale(byte* block) => HalfScale.ToSingle(*(ushort*)block);
}
