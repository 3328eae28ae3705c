using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// The AVX-512 register tile: 12 rows × 32 columns, 24 zmm accumulators. Each k step loads two vectors of B (32
/// columns), broadcasts twelve values of A and issues 24 FMAs; with the two B vectors and a broadcast register that
/// is 27 of the 32 zmm registers. 24 independent accumulators cover the FMA latency (4 cycles × 2 pipes) three times
/// over, and 14 loads per 24 FMAs stay under the two loads per cycle the core sustains.
/// </summary>
internal readonly unsafe struct GemmKernel12x32 : IGemmKernel
{
    public static int MR => 12;
    public static int NR => 32;
    public static int MC => 120;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* ap, float* bp, float* c, int ldc, bool add)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, cA0 = default, cA1 = default, cB0 = default, cB1 = default;
        // Fetch the tile of C now: its rows are far apart (a cache miss each, often to memory on large problems) and
        // only read at the end; the 12×32 sum takes long enough to hide the wait.
        for (int r = 0; r < 12; r++)
        {
            Sse.Prefetch0(c + (long)r * ldc);
            Sse.Prefetch0(c + (long)r * ldc + 31);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx512F.LoadVector512(bp);
            var b1 = Avx512F.LoadVector512(bp + 16);
            var a = Vector512.Create(ap[0]);
            c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(ap[1]);
            c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(ap[2]);
            c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(ap[3]);
            c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(ap[4]);
            c40 = Avx512F.FusedMultiplyAdd(a, b0, c40); c41 = Avx512F.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(ap[5]);
            c50 = Avx512F.FusedMultiplyAdd(a, b0, c50); c51 = Avx512F.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(ap[6]);
            c60 = Avx512F.FusedMultiplyAdd(a, b0, c60); c61 = Avx512F.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(ap[7]);
            c70 = Avx512F.FusedMultiplyAdd(a, b0, c70); c71 = Avx512F.FusedMultiplyAdd(a, b1, c71);
            a = Vector512.Create(ap[8]);
            c80 = Avx512F.FusedMultiplyAdd(a, b0, c80); c81 = Avx512F.FusedMultiplyAdd(a, b1, c81);
            a = Vector512.Create(ap[9]);
            c90 = Avx512F.FusedMultiplyAdd(a, b0, c90); c91 = Avx512F.FusedMultiplyAdd(a, b1, c91);
            a = Vector512.Create(ap[10]);
            cA0 = Avx512F.FusedMultiplyAdd(a, b0, cA0); cA1 = Avx512F.FusedMultiplyAdd(a, b1, cA1);
            a = Vector512.Create(ap[11]);
            cB0 = Avx512F.FusedMultiplyAdd(a, b0, cB0); cB1 = Avx512F.FusedMultiplyAdd(a, b1, cB1);
            ap += 12;
            bp += 32;
        }
        Store(c, c00, c01, add); c += ldc;
        Store(c, c10, c11, add); c += ldc;
        Store(c, c20, c21, add); c += ldc;
        Store(c, c30, c31, add); c += ldc;
        Store(c, c40, c41, add); c += ldc;
        Store(c, c50, c51, add); c += ldc;
        Store(c, c60, c61, add); c += ldc;
        Store(c, c70, c71, add); c += ldc;
        Store(c, c80, c81, add); c += ldc;
        Store(c, c90, c91, add); c += ldc;
        Store(c, cA0, cA1, add); c += ldc;
        Store(c, cB0, cB1, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dst, Vector512<float> lo, Vector512<float> hi, bool add)
    {
        if (add)
        {
            lo = Avx512F.Add(lo, Avx512F.LoadVector512(dst));
            hi = Avx512F.Add(hi, Avx512F.LoadVector512(dst + 16));
        }
        Avx512F.Store(dst, lo);
        Avx512F.Store(dst + 16, hi);
    }
}
