using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// A weight block format as the kernels see it: its size, its 32 codes in a register, and the integer dot product of
/// those codes with one int8 activation block, as 8 int32 lanes whose sum is the dot product (the caller weights it by
/// d_w·s_x and sums the lanes at the end). Kernels are generic over the implementing structs, so the JIT compiles one
/// specialised copy per format with these calls inlined.
/// </summary>
/// <remarks>
/// AVX2 has no signed × signed byte multiply, only <c>pmaddubsw</c> (unsigned × signed, adjacent pairs summed to int16),
/// hence the two shapes of <see cref="Dot"/>. Where the CPU has AVX-VNNI, <c>vpdpbusd</c> does the same unsigned × signed
/// products and sums each 4 adjacent ones straight into an int32 lane, one instruction for pmaddubsw and pmaddwd; no
/// pair sum here can saturate pmaddubsw's int16, so both paths give the same integers.
/// </remarks>
internal unsafe interface IQuantFormat
{
    static abstract int BlockBytes { get; }

    /// <summary>The 32 codes of the block at <paramref name="block"/>, in element order.</summary>
    static abstract Vector256<byte> LoadCodes(byte* block);

    /// <summary>Σ_k level(codes[k])·x[k] spread over 8 int32 lanes; <paramref name="absX"/> = |x|, <paramref name="sumX"/> = Σx.</summary>
    static abstract Vector256<int> Dot(Vector256<byte> codes, sbyte* x, byte* absX, int sumX);

    /// <summary>The 32 levels of the block (w = d·level) as signed bytes, in element order.</summary>
    static abstract Vector256<sbyte> LoadLevels(byte* block);
}

/// <summary>Q8_0 blocks: <c>{ f16 d; int8 q[32] }</c>.</summary>
internal readonly unsafe struct Q8_0Format : IQuantFormat
{
    public static int BlockBytes => Q8_0Block.Bytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> LoadCodes(byte* block) => Avx.LoadVector256(block + 2);

    /// <summary>
    /// Σ w·x = Σ |x|·(w·sign x): <c>psignb</c> moves the sign of x onto w (zeroing w where x = 0), so |x| is the
    /// unsigned operand. Pair sums reach at most 2·127·127 = 32258 and never saturate int16, which is why neither side
    /// may hold −128.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> codes, sbyte* x, byte* absX, int sumX)
    {
        var abs = Avx.LoadVector256(absX);
        var signed = Avx2.Sign(codes.AsSByte(), Avx.LoadVector256(x));
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, abs, signed);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(abs, signed), Vector256.Create((short)1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> LoadLevels(byte* block) => Avx.LoadVector256((sbyte*)(block + 2));
}

/// <summary>Q4_0 blocks: <c>{ f16 d; u8 qs[16] }</c>, levels c − 8.</summary>
internal readonly unsafe struct Q4_0Format : IQuantFormat
{
    public static int BlockBytes => Q4_0Block.Bytes;

    /// <summary>The codes c in [0, 15]: low nibbles are elements 0–15, high nibbles 16–31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> LoadCodes(byte* block)
    {
        var packed = Sse2.LoadVector128(block + 2);
        var mask = Vector128.Create((byte)0x0F);
        var low = Sse2.And(packed, mask);
        var high = Sse2.And(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), mask);
        return Vector256.Create(low, high);
    }

    /// <summary>
    /// Σ (c − 8)·x = Σ c·x − 8·Σx: the codes are the unsigned operand as they are (pair sums ≤ 2·15·127), and
    /// subtracting Σx from each of the 8 lanes takes 8·Σx off their total.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> codes, sbyte* x, byte* absX, int sumX)
    {
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(Vector256.Create(-sumX), codes, Avx.LoadVector256(x));
        var products = Avx2.MultiplyAddAdjacent(codes, Avx.LoadVector256(x));
        return Avx2.Subtract(Avx2.MultiplyAddAdjacent(products, Vector256.Create((short)1)), Vector256.Create(sumX));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> LoadLevels(byte* block) => Avx2.Subtract(LoadCodes(block), Vector256.Create((byte)8)).AsSByte();
}
