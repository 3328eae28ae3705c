using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// One stored weight row against one or two quantised activation rows: the path for short left-hand sides (decode,
/// below <see cref="QuantizedGemm.PanelMinRows"/>), which reads every weight byte once, in order.
/// </summary>
/// <remarks>
/// <para>Per block: the codes are loaded once for all activation rows, each dot product (8 int32 lanes) is converted
/// to float and added with weight d_w·s_x into that row's accumulator; the lanes are summed once per row at the end.</para>
/// <para>A weight row is one sequential stream. Interleaving four weight rows instead (sharing each activation block)
/// is 1.5× faster while the weights sit in cache (65 against 43 GB/s, Q8_0 [1024 × 1024]), but from DRAM it reads at
/// 17–18 GB/s against 24–30 GB/s for one stream (2 threads, [32000 × 1024] and [16384 × 2048], software prefetch in
/// both). Decoding a model reads every matrix cold from DRAM, so the kernels go row by row, prefetching
/// <see cref="QuantizedGemm.PrefetchBlocks"/> blocks ahead.</para>
/// </remarks>
internal static unsafe class RowDotKernels
{
    /// <summary>
    /// Σ_b d(w, b)·s(x, b)·(w[b] · x[b]) for one activation row. Four consecutive blocks go to four accumulators: with
    /// one, every block would wait for the previous block's FMA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot1<T>(byte* w, int blocks, in ActivationRow x) where T : IQuantFormat
    {
        float* f16 = HalfScale.Table;
        int bb = T.BlockBytes;
        sbyte* q = x.Codes;
        byte* a = x.AbsCodes;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int b = 0;
        for (; b + 4 <= blocks; b += 4, w += 4 * bb, q += 128, a += 128)
        {
            Prefetch<T>(w, 4);
            acc0 = Fma.MultiplyAdd(Float(T.Dot(T.LoadCodes(w), q, a, x.Sums[b])), Weight(f16, w, x.Scales[b]), acc0);
            acc1 = Fma.MultiplyAdd(Float(T.Dot(T.LoadCodes(w + bb), q + 32, a + 32, x.Sums[b + 1])), Weight(f16, w + bb, x.Scales[b + 1]), acc1);
            acc2 = Fma.MultiplyAdd(Float(T.Dot(T.LoadCodes(w + 2 * bb), q + 64, a + 64, x.Sums[b + 2])), Weight(f16, w + 2 * bb, x.Scales[b + 2]), acc2);
            acc3 = Fma.MultiplyAdd(Float(T.Dot(T.LoadCodes(w + 3 * bb), q + 96, a + 96, x.Sums[b + 3])), Weight(f16, w + 3 * bb, x.Scales[b + 3]), acc3);
        }
        for (; b < blocks; b++, w += bb, q += 32, a += 32)
            acc0 = Fma.MultiplyAdd(Float(T.Dot(T.LoadCodes(w), q, a, x.Sums[b])), Weight(f16, w, x.Scales[b]), acc0);
        return Vector256.Sum(Avx.Add(Avx.Add(acc0, acc1), Avx.Add(acc2, acc3)));
    }

    /// <summary>
    /// Two activation rows: each weight block is loaded once and used twice. Each row's sum runs exactly as in
    /// <see cref="Dot1{T}"/> (block b to accumulator b mod 4 over the groups of four, the rest to accumulator 0, the same
    /// final reduction), so a row's result does not depend on whether another row shares the call: verifying a
    /// speculative draft gives the logits of decoding alone, bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot2<T>(byte* w, int blocks, in ActivationRow x0, in ActivationRow x1, out float y0, out float y1) where T : IQuantFormat
    {
        float* f16 = HalfScale.Table;
        int bb = T.BlockBytes;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;   // row 0
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;   // row 1
        int b = 0;
        for (; b + 4 <= blocks; b += 4, w += 4 * bb)
        {
            Prefetch<T>(w, 4);
            int p = b * QuantFormat.BlockSize;
            var c = T.LoadCodes(w);
            a0 = Fma.MultiplyAdd(Float(T.Dot(c, x0.Codes + p, x0.AbsCodes + p, x0.Sums[b])), Weight(f16, w, x0.Scales[b]), a0);
            b0 = Fma.MultiplyAdd(Float(T.Dot(c, x1.Codes + p, x1.AbsCodes + p, x1.Sums[b])), Weight(f16, w, x1.Scales[b]), b0);
            c = T.LoadCodes(w + bb);
            a1 = Fma.MultiplyAdd(Float(T.Dot(c, x0.Codes + p + 32, x0.AbsCodes + p + 32, x0.Sums[b + 1])), Weight(f16, w + bb, x0.Scales[b + 1]), a1);
            b1 = Fma.MultiplyAdd(Float(T.Dot(c, x1.Codes + p + 32, x1.AbsCodes + p + 32, x1.Sums[b + 1])), Weight(f16, w + bb, x1.Scales[b + 1]), b1);
            c = T.LoadCodes(w + 2 * bb);
            a2 = Fma.MultiplyAdd(Float(T.Dot(c, x0.Codes + p + 64, x0.AbsCodes + p + 64, x0.Sums[b + 2])), Weight(f16, w + 2 * bb, x0.Scales[b + 2]), a2);
            b2 = Fma.MultiplyAdd(Float(T.Dot(c, x1.Codes + p + 64, x1.AbsCodes + p + 64, x1.Sums[b + 2])), Weight(f16, w + 2 * bb, x1.Scales[b + 2]), b2);
            c = T.LoadCodes(w + 3 * bb);
            a3 = Fma.MultiplyAdd(Float(T.Dot(c, x0.Codes + p + 96, x0.AbsCodes + p + 96, x0.Sums[b + 3])), Weight(f16, w + 3 * bb, x0.Scales[b + 3]), a3);
            b3 = Fma.MultiplyAdd(Float(T.Dot(c, x1.Codes + p + 96, x1.AbsCodes + p + 96, x1.Sums[b + 3])), Weight(f16, w + 3 * bb, x1.Scales[b + 3]), b3);
        }
        for (; b < blocks; b++, w += bb)
        {
            int p = b * QuantFormat.BlockSize;
            var c = T.LoadCodes(w);
            a0 = Fma.MultiplyAdd(Float(T.Dot(c, x0.Codes + p, x0.AbsCodes + p, x0.Sums[b])), Weight(f16, w, x0.Scales[b]), a0);
            b0 = Fma.MultiplyAdd(Float(T.Dot(c, x1.Codes + p, x1.AbsCodes + p, x1.Sums[b])), Weight(f16, w, x1.Scales[b]), b0);
        }
        y0 = Vector256.Sum(Avx.Add(Avx.Add(a0, a1), Avx.Add(a2, a3)));
        y1 = Vector256.Sum(Avx.Add(Avx.Add(b0, b1), Avx.Add(b2, b3)));
    }

    /// <summary>
    /// Asks for the weight bytes that the blocks <paramref name="blocks"/> steps from now will read,
    /// <see cref="QuantizedGemm.PrefetchBlocks"/> blocks ahead: one prefetch per cache line consumed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch<T>(byte* w, int blocks) where T : IQuantFormat
    {
        byte* ahead = w + QuantizedGemm.PrefetchBlocks * T.BlockBytes;
        for (int offset = 0; offset < blocks * T.BlockBytes; offset += 64) Sse.Prefetch0(ahead + offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Float(Vector256<int> v) => Avx.ConvertToVector256Single(v);

    // d_w·s_x, broadcast: the weight of one block's dot product.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Weight(float* f16, byte* block, float xScale) => Vector256.Create(f16[*(ushort*)block] * xScale);
}

/// <summary>Pointers to one quantised activation row (see <see cref="QuantizedActivations"/>).</summary>
internal readonly unsafe struct ActivationRow(QuantizedActivations a, int row)
{
    public readonly sbyte* Codes = a.RowCodes(row);
    public readonly byte* AbsCodes = a.RowAbsCodes(row);
    public readonly float* Scales = a.RowScales(row);
    public readonly int* Sums = a.RowSums(row);
}
