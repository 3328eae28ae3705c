using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// The AVX2 register tile: 6 rows × 16 columns, 12 ymm accumulators. Each k step loads two vectors of B, broadcasts
/// six values of A and issues 12 FMAs; with the two B vectors and one broadcast that uses 15 of the 16 ymm registers.
/// </summary>
internal readonly unsafe struct GemmKernel6x16 : IGemmKernel
{
    public static int MR => 6;
    public static int NR => 16;
    public static int MC => 120;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* ap, float* bp, float* c, int ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        // Fetch the tile of C now: its rows are far apart (a cache miss each, often to memory on large problems) and
        // only read at the end; the 6×16 sum takes long enough to hide the wait.
        for (int r = 0; r < 6; r++)
        {
            Sse.Prefetch0(c + (long)r * ldc);
            Sse.Prefetch0(c + (long)r * ldc + 15);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadVector256(bp);
            var b1 = Avx.LoadVector256(bp + 8);
            var a = Avx.BroadcastScalarToVector256(ap);
            c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Avx.BroadcastScalarToVector256(ap + 1);
            c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Avx.BroadcastScalarToVector256(ap + 2);
            c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Avx.BroadcastScalarToVector256(ap + 3);
            c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Avx.BroadcastScalarToVector256(ap + 4);
            c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Avx.BroadcastScalarToVector256(ap + 5);
            c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            ap += 6;
            bp += 16;
        }
        Store(c, c00, c01, add); c += ldc;
        Store(c, c10, c11, add); c += ldc;
        Store(c, c20, c21, add); c += ldc;
        Store(c, c30, c31, add); c += ldc;
        Store(c, c40, c41, add); c += ldc;
        Store(c, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dst, Vector256<float> lo, Vector256<float> hi, bool add)
    {
        if (add)
        {
            lo = Avx.Add(lo, Avx.LoadVector256(dst));
            hi = Avx.Add(hi, Avx.LoadVector256(dst + 8));
        }
        Avx.Store(dst, lo);
        Avx.Store(dst + 8, hi);
    }
}
