using System.Diagnostics;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Bench;

/// <summary>
/// Quantised y = x·Wᵀ (Q8_0, Q4_0) against the float32 GEMM on the same shapes, in the same process, rounds alternating
/// so that all see the same machine conditions; best time of each. GB/s counts the weight bytes read once per call
/// (what bounds decode), GFLOP/s the 2·m·rows·cols multiply-adds (what bounds prefill). With --accuracy, the error
/// report of <see cref="QuantAccuracy"/> instead.
/// </summary>
internal static class QuantBench
{
    public static int Run(string[] args)
    {
        if (BenchArgs.Has(args, "--accuracy")) return QuantAccuracy.Run(args);
        var shapes = (BenchArgs.Get(args, "--shapes") ?? "1024x512,512x1024,32000x1024")
            .Split(',').Select(s => s.Split('x').Select(int.Parse).ToArray()).ToArray();
        var ms = (BenchArgs.Get(args, "--m") ?? "1,16,128").Split(',').Select(int.Parse).ToArray();
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        double seconds = double.Parse(BenchArgs.Get(args, "--seconds") ?? "2");
        using var pool = new WorkerPool(threads);
        Console.WriteLine($"threads={threads} avx512={System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}; best of {seconds} s of alternating rounds per case");
        Console.WriteLine("W [rows x cols]     m  format        µs    GB/s  GFLOP/s  vs F32");
        foreach (var shape in shapes)
        {
            int rows = shape[0], cols = shape[1];
            var weights = Random(rows * cols, 1, 0.05f);
            var q8 = QuantizedMatrix.Quantize(QuantType.Q8_0, weights, rows, cols, pool);
            var q4 = QuantizedMatrix.Quantize(QuantType.Q4_0, weights, rows, cols, pool);
            foreach (int m in ms)
            {
                var x = Random(m * cols, 2, 1f);
                var y = new float[m * rows];
                var cases = new (string Name, long Bytes, Action Call)[]
                {
                    ("F32", 4L * rows * cols, () => Gemm.Multiply(pool, m, rows, cols, x, cols, false, weights, cols, true, y, rows)),
                    ("Q8_0", q8.ByteSize, () => QuantizedGemm.Multiply(pool, m, x, cols, q8, y, rows)),
                    ("Q4_0", q4.ByteSize, () => QuantizedGemm.Multiply(pool, m, x, cols, q4, y, rows)),
                };
                if (m == 1 && threads == 1 && cols % 32 == 0)   // the float-activation alternative, one thread
                    cases = [.. cases, ("Q8 fx", q8.ByteSize, () => QuantFloatActivations.Gemv(q8, x, y))];
                var best = BestTimes(cases.Select(c => c.Call).ToArray(), seconds);
                for (int c = 0; c < cases.Length; c++)
                {
                    double t = best[c];
                    Console.WriteLine($"{rows,6} x {cols,-6} {m,5}  {cases[c].Name,-6} {t * 1e6,10:F1} {cases[c].Bytes / t / 1e9,7:F1} {2.0 * m * rows * cols / t / 1e9,8:F1}  {best[0] / t,5:F2}x");
                }
            }
        }
        return 0;
    }

    private static double[] BestTimes(Action[] calls, double seconds)
    {
        var best = Enumerable.Repeat(double.MaxValue, calls.Length).ToArray();
        foreach (var call in calls) call();   // JIT and buffers
        var until = Stopwatch.StartNew();
        int rounds = 0;
        while (until.Elapsed.TotalSeconds < seconds || rounds < 3)
        {
            for (int c = 0; c < calls.Length; c++)
            {
                var sw = Stopwatch.StartNew();
                calls[c]();
                best[c] = Math.Min(best[c], sw.Elapsed.TotalSeconds);
            }
            rounds++;
        }
        return best;
    }

    private static float[] Random(int n, int seed, float scale)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}
