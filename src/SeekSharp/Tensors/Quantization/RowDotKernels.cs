using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// Dot products of whole weight rows (in their stored layout) with one quantised activation row: the path for short
/// left-hand sides (decode), which streams every weight byte once and is bound by memory bandwidth.
/// </summary>
/// <remarks>
/// Four weight rows go together: the activation block and its |x| are loaded once for all four, and the four
/// accumulators are independent chains, which hides the FMA latency. Per block, the int32 lanes are converted to
/// float and added with weight d_w·s_x; the 8 lanes are summed once at the end of the row.
/// </remarks>
internal static unsafe class RowDotKernels
{
    /// <summary>result[r] = Σ_b d(W[r], b)·s(x, b)·(W[r, b] · x[b]) for rows r = 0..3 starting at <paramref name="w"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8x4(byte* w, int rowBytes, int blocks, sbyte* x, float* xScales, float* result)
    {
        byte* w0 = w, w1 = w + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++)
        {
            var xv = Avx.LoadVector256(x);
            var ax = Avx2.Abs(xv);
            float s = xScales[b];
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q8(Avx.LoadVector256((sbyte*)(w0 + 2)), xv, ax)), Vector256.Create(BlockDot.Scale(w0) * s), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q8(Avx.LoadVector256((sbyte*)(w1 + 2)), xv, ax)), Vector256.Create(BlockDot.Scale(w1) * s), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q8(Avx.LoadVector256((sbyte*)(w2 + 2)), xv, ax)), Vector256.Create(BlockDot.Scale(w2) * s), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q8(Avx.LoadVector256((sbyte*)(w3 + 2)), xv, ax)), Vector256.Create(BlockDot.Scale(w3) * s), acc3);
            x += QuantFormat.BlockSize;
            w0 += Q8_0Block.Bytes; w1 += Q8_0Block.Bytes; w2 += Q8_0Block.Bytes; w3 += Q8_0Block.Bytes;
        }
        result[0] = Vector256.Sum(acc0);
        result[1] = Vector256.Sum(acc1);
        result[2] = Vector256.Sum(acc2);
        result[3] = Vector256.Sum(acc3);
    }

    /// <summary>One row of <see cref="Q8x4"/> (the tail of a row group).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8x1(byte* w, int blocks, sbyte* x, float* xScales)
    {
        Vector256<float> acc = default;
        for (int b = 0; b < blocks; b++)
        {
            var xv = Avx.LoadVector256(x);
            var dot = BlockDot.Q8(Avx.LoadVector256((sbyte*)(w + 2)), xv, Avx2.Abs(xv));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(BlockDot.Scale(w) * xScales[b]), acc);
            x += QuantFormat.BlockSize;
            w += Q8_0Block.Bytes;
        }
        return Vector256.Sum(acc);
    }

    /// <inheritdoc cref="Q8x4"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4x4(byte* w, int rowBytes, int blocks, sbyte* x, float* xScales, int* xSums, float* result)
    {
        byte* w0 = w, w1 = w + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++)
        {
            var xv = Avx.LoadVector256(x);
            var sum = Vector256.Create(xSums[b]);
            float s = xScales[b];
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q4(BlockDot.LoadQ4Codes(w0 + 2), xv, sum)), Vector256.Create(BlockDot.Scale(w0) * s), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q4(BlockDot.LoadQ4Codes(w1 + 2), xv, sum)), Vector256.Create(BlockDot.Scale(w1) * s), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q4(BlockDot.LoadQ4Codes(w2 + 2), xv, sum)), Vector256.Create(BlockDot.Scale(w2) * s), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockDot.Q4(BlockDot.LoadQ4Codes(w3 + 2), xv, sum)), Vector256.Create(BlockDot.Scale(w3) * s), acc3);
            x += QuantFormat.BlockSize;
            w0 += Q4_0Block.Bytes; w1 += Q4_0Block.Bytes; w2 += Q4_0Block.Bytes; w3 += Q4_0Block.Bytes;
        }
        result[0] = Vector256.Sum(acc0);
        result[1] = Vector256.Sum(acc1);
        result[2] = Vector256.Sum(acc2);
        result[3] = Vector256.Sum(acc3);
    }

    /// <summary>One row of <see cref="Q4x4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4x1(byte* w, int blocks, sbyte* x, float* xScales, int* xSums)
    {
        Vector256<float> acc = default;
        for (int b = 0; b < blocks; b++)
        {
            var dot = BlockDot.Q4(BlockDot.LoadQ4Codes(w + 2), Avx.LoadVector256(x), Vector256.Create(xSums[b]));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(BlockDot.Scale(w) * xScales[b]), acc);
            x += QuantFormat.BlockSize;
            w += Q4_0Block.Bytes;
        }
        return Vector256.Sum(acc);
    }
}
