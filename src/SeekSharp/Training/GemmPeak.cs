using System.Diagnostics;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Training;

/// <summary>
/// The float32 FLOP/s this machine's GEMM kernel reaches, measured: the baseline of the training MFU
/// (<see cref="MfuMeter"/>). A CPU's datasheet peak (cores × FMA units × vector lanes × 2 × clock) cannot be read
/// reliably, least of all in a VM: the clock under AVX-512 load, turbo and the CPU quota are unknown. So this is the
/// best rate of repeated GEMMs, on the worker pool training uses (the peak depends on the thread count).
/// </summary>
/// <remarks>
/// Three shapes, each run for a warm-up and then timed call by call for <c>secondsPerShape</c>, the best call kept:
/// [1024 × <see cref="Gemm.KC"/>]·[KC × 1024] in the layouts of a forward (x·Wᵀ) and a backward (dY·W) matmul, where
/// one packed panel holds the whole sum (the kernel's best case, and the shape of a model with hidden size 256), and
/// 512³, whose sum spans two panels. One short timing runs low whenever another process shares the cores; the best of
/// many calls is the least disturbed. It can still be lower than what training reaches, which the meter allows for.
/// </remarks>
public static class GemmPeak
{
    public static double Measure(WorkerPool pool, double secondsPerShape = 0.25)
    {
        ArgumentNullException.ThrowIfNull(pool);
        const int k = Gemm.KC;
        var shapes = new (int M, int N, int K, bool TransB)[] { (1024, 1024, k, true), (1024, 1024, k, false), (512, 512, 512, true) };
        double best = 0;
        foreach (var (m, n, kk, transB) in shapes)
            best = Math.Max(best, Best(pool, m, n, kk, transB, secondsPerShape));
        return best;
    }

    private static double Best(WorkerPool pool, int m, int n, int k, bool transB, double seconds)
    {
        var a = Filled(m * k, 7);
        var b = Filled(k * n, 5);
        var c = new float[m * n];
        void Call() => Gemm.Multiply(pool, m, n, k, a, k, false, b, transB ? k : n, transB, c, n);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds / 2) Call();   // the JIT's optimised code, caches and clock warm
        double best = 0;
        clock.Restart();
        for (int calls = 0; calls < 3 || clock.Elapsed.TotalSeconds < seconds; calls++)
        {
            long start = Stopwatch.GetTimestamp();
            Call();
            best = Math.Max(best, 2.0 * m * n * k / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    private static float[] Filled(int length, int period)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (i % period) * 0.1f;
        return x;
    }
}
