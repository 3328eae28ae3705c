using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// Copies blocks of A and B into the panel layouts the register tiles read (<see cref="IGemmKernel"/>): A as
/// [kc][MR] (the MR values of one k side by side, for broadcasting) and B as [kc][NR] (one vector row per k). Packing
/// absorbs the transposes, the leading dimensions, the zero padding of edge panels and the widening of BF16/F16 B.
/// </summary>
/// <remarks>
/// Full panels are moved with AVX2 shuffles, eight k at a time: an untransposed A (rows along k) and a transposed B
/// (stored [n, k]) both need their 8-wide rows turned into columns, 4 rows at a time for A (MR is a multiple of 2,
/// the rest 2 rows at a time) and 8×8 for B. Edges fall back to scalar copies.
/// </remarks>
internal static unsafe class GemmPacking
{
    /// <summary>Rows [r0, r0+rows) of op(A), columns [pc, pc+kc) → dst[p·MR + r], zero past <paramref name="rows"/>.</summary>
    public static void PackA<TKernel>(float* a, int lda, bool transA, int r0, int rows, int pc, int kc, float* dst)
        where TKernel : struct, IGemmKernel
    {
        int mr = TKernel.MR;
        if (transA)
        {
            // A stored [k, m]: each k is already a contiguous run of MR values.
            for (int p = 0; p < kc; p++)
            {
                float* src = a + (long)(pc + p) * lda + r0;
                float* d = dst + p * mr;
                if (rows == mr) CopyRun(src, d, mr);
                else
                {
                    int r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < mr; r++) d[r] = 0;
                }
            }
            return;
        }
        int q = 0;
        if (rows == mr)
        {
            float* src = a + (long)r0 * lda + pc;
            for (; q + 8 <= kc; q += 8)
            {
                int r = 0;
                for (; r + 4 <= mr; r += 4) Transpose4x8(src + (long)r * lda + q, lda, dst + q * mr + r, mr);
                if (r < mr) Transpose2x8(src + (long)r * lda + q, lda, dst + q * mr + r, mr);
            }
        }
        for (int r = 0; r < mr; r++)
        {
            if (r >= rows) { for (int p = q; p < kc; p++) dst[p * mr + r] = 0; continue; }
            float* src = a + (long)(r0 + r) * lda + pc;
            for (int p = q; p < kc; p++) dst[p * mr + r] = src[p];
        }
    }

    /// <summary>Columns [j0, j0+cols) of op(B), rows [pc, pc+kc) → dst[p·NR + j], zero past <paramref name="cols"/>.</summary>
    public static void PackB<TKernel>(void* b, ElementType bType, int ldb, bool transB, int j0, int cols, int pc, int kc, float* dst)
        where TKernel : struct, IGemmKernel
    {
        int nr = TKernel.NR;
        var src = new Source(b, bType, ldb);
        if (transB)
        {
            // B stored [n, k]: each output column is a contiguous source row; transpose 8×8 tiles.
            int p = 0;
            if (cols == nr)
                for (; p + 8 <= kc; p += 8)
                    for (int j = 0; j < nr; j += 8)
                        Kernels.Transpose8x8.Store(src.Load8(j0 + j, pc + p), src.Load8(j0 + j + 1, pc + p),
                            src.Load8(j0 + j + 2, pc + p), src.Load8(j0 + j + 3, pc + p), src.Load8(j0 + j + 4, pc + p),
                            src.Load8(j0 + j + 5, pc + p), src.Load8(j0 + j + 6, pc + p), src.Load8(j0 + j + 7, pc + p),
                            dst + p * nr + j, nr);
            if (p < kc)
            {
                float* row = stackalloc float[Gemm.KC];
                for (int j = 0; j < nr; j++)
                {
                    if (j >= cols) { for (int q = p; q < kc; q++) dst[q * nr + j] = 0; continue; }
                    float* s = src.RowAt(j0 + j, pc + p, kc - p, row);
                    for (int q = p; q < kc; q++) dst[q * nr + j] = s[q - p];
                }
            }
        }
        else
        {
            float* row = stackalloc float[64];
            for (int p = 0; p < kc; p++)
            {
                float* d = dst + p * nr;
                if (cols == nr && bType == ElementType.F32)
                {
                    CopyRun((float*)b + (long)(pc + p) * ldb + j0, d, nr);
                    continue;
                }
                float* s = src.RowAt(pc + p, j0, cols, row);
                int j = 0;
                for (; j < cols; j++) d[j] = s[j];
                for (; j < nr; j++) d[j] = 0;
            }
        }
    }

    // count floats, count a multiple of 2 (MR and NR all are).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRun(float* src, float* dst, int count)
    {
        int i = 0;
        for (; i + 8 <= count; i += 8) Avx.Store(dst + i, Avx.LoadVector256(src + i));
        if (i + 4 <= count) { Sse.Store(dst + i, Sse.LoadVector128(src + i)); i += 4; }
        if (i < count) *(long*)(dst + i) = *(long*)(src + i);
    }

    // Rows s[0..4) (stride lds), 8 values each → dst[q·stride + r] = s_r[q]: four 4-wide columns per 128-bit lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x8(float* s, int lds, float* dst, int stride)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + lds);
        var r2 = Avx.LoadVector256(s + 2 * (long)lds);
        var r3 = Avx.LoadVector256(s + 3 * (long)lds);
        var t0 = Avx.UnpackLow(r0, r1);    // r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]
        var t1 = Avx.UnpackHigh(r0, r1);   // r0[2] r1[2] r0[3] r1[3] | r0[6] r1[6] r0[7] r1[7]
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var u0 = Avx.Shuffle(t0, t2, 0x44); // column 0 | column 4
        var u1 = Avx.Shuffle(t0, t2, 0xEE); // column 1 | column 5
        var u2 = Avx.Shuffle(t1, t3, 0x44); // column 2 | column 6
        var u3 = Avx.Shuffle(t1, t3, 0xEE); // column 3 | column 7
        Sse.Store(dst, u0.GetLower());
        Sse.Store(dst + stride, u1.GetLower());
        Sse.Store(dst + 2 * stride, u2.GetLower());
        Sse.Store(dst + 3 * stride, u3.GetLower());
        Sse.Store(dst + 4 * stride, u0.GetUpper());
        Sse.Store(dst + 5 * stride, u1.GetUpper());
        Sse.Store(dst + 6 * stride, u2.GetUpper());
        Sse.Store(dst + 7 * stride, u3.GetUpper());
    }

    // Rows s[0..2), 8 values each → dst[q·stride + r] = s_r[q]: pairs of 64 bits.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose2x8(float* s, int lds, float* dst, int stride)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + lds);
        var t0 = Avx.UnpackLow(r0, r1);    // columns 0, 1 | 4, 5
        var t1 = Avx.UnpackHigh(r0, r1);   // columns 2, 3 | 6, 7
        Sse.StoreLow(dst, t0.GetLower());
        Sse.StoreHigh(dst + stride, t0.GetLower());
        Sse.StoreLow(dst + 2 * stride, t1.GetLower());
        Sse.StoreHigh(dst + 3 * stride, t1.GetLower());
        Sse.StoreLow(dst + 4 * stride, t0.GetUpper());
        Sse.StoreHigh(dst + 5 * stride, t0.GetUpper());
        Sse.StoreLow(dst + 6 * stride, t1.GetUpper());
        Sse.StoreHigh(dst + 7 * stride, t1.GetUpper());
    }

    /// <summary>The stored B, read as float32 whatever its element type.</summary>
    private readonly struct Source(void* b, ElementType type, int ld)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Load8(int row, int col) => type switch
        {
            ElementType.F32 => Avx.LoadVector256((float*)b + (long)row * ld + col),
            ElementType.BF16 => HalfConversion.LoadBf16x8((ushort*)b + (long)row * ld + col),
            _ => HalfConversion.LoadF16x8((ushort*)b + (long)row * ld + col),
        };

        // Row `r` of the stored B, elements [c0, c0+count), as float32 (widened into `scratch` when 16-bit).
        public float* RowAt(int r, int c0, int count, float* scratch)
        {
            if (type == ElementType.F32) return (float*)b + (long)r * ld + c0;
            HalfConversion.ToSingle(type, (ushort*)b + (long)r * ld + c0, scratch, count);
            return scratch;
        }
    }
}
