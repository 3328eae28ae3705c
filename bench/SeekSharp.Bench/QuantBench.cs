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
/// <remarks>
/// Before every timed call the caches are evicted (every pool thread reads its share of a 96 MiB buffer), because in
/// a model the weights of one matrix are always cold: all the others pass through the caches in between. Without it,
/// a 35 MB Q8_0 matrix on this machine's 32 MiB L3 reads partly from L3 when called back to back, and the result
/// depends on which case ran before. --warm skips the eviction.
/// </remarks>
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
        bool warm = BenchArgs.Has(args, "--warm");
        using var pool = new WorkerPool(threads);
        var eviction = new CacheEviction(pool);
        Action evict = eviction.Run;
        Console.WriteLine($"threads={threads} avx512={System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}; best of {seconds} s of alternating rounds per case; caches {(warm ? "warm" : "evicted before each call")}");
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
                var best = BestTimes(cases.Select(c => c.Call).ToArray(), seconds, warm ? null : evict);
                for (int c = 0; c < cases.Length; c++)
                {
                    double t = best[c];
                    Console.WriteLine($"{rows,6} x {cols,-6} {m,5}  {cases[c].Name,-6} {t * 1e6,10:F1} {cases[c].Bytes / t / 1e9,7:F1} {2.0 * m * rows * cols / t / 1e9,8:F1}  {best[0] / t,5:F2}x");
                }
            }
        }
        return 0;
    }

    private static double[] BestTimes(Action[] calls, double seconds, Action? before)
    {
        var best = Enumerable.Repeat(double.MaxValue, calls.Length).ToArray();
        foreach (var call in calls) call();   // JIT and buffers
        var until = Stopwatch.StartNew();
        int rounds = 0;
        while (until.Elapsed.TotalSeconds < seconds || rounds < 3)
        {
            for (int c = 0; c < calls.Length; c++)
            {
                before?.Invoke();
                var sw = Stopwatch.StartNew();
                calls[c]();
                best[c] = Math.Min(best[c], sw.Elapsed.TotalSeconds);
            }
            rounds++;
        }
        return best;
    }

    /// <summary>Every pool thread reads 1 MiB chunks of a 96 MiB buffer: their L1/L2 and the shared L3 lose the weights.</summary>
    private sealed class CacheEviction(WorkerPool pool) : ParallelWork
    {
        private const int Chunk = 1 << 20;
        private readonly byte[] _buffer = CreateBuffer();
        public long Sink;

        private static byte[] CreateBuffer()
        {
            var b = new byte[96 << 20];
            System.Random.Shared.NextBytes(b);
            return b;
        }

        public void Run() => pool.For(_buffer.Length / Chunk, this);

        public override void Execute(int index)
        {
            var longs = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(_buffer.AsSpan(index * Chunk, Chunk));
            long sum = 0;
            for (int i = 0; i < longs.Length; i += 8) sum += longs[i];   // one read per cache line
            Interlocked.Add(ref Sink, sum);
        }
    }

    private static float[] Random(int n, int seed, float scale)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}
