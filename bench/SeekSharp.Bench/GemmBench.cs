using System.Diagnostics;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Bench;

/// <summary>GFLOP/s of our GEMM and of OpenBLAS on the same square problems, in the same process, alternating runs.</summary>
internal static class GemmBench
{
    public static int Run(string[] args)
    {
        var sizes = (BenchArgs.Get(args, "--sizes") ?? "512,2048").Split(',').Select(int.Parse).ToArray();
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        double seconds = double.Parse(BenchArgs.Get(args, "--seconds") ?? "3");
        using var pool = new WorkerPool(threads);
        if (OpenBlas.Available) OpenBlas.Threads(threads);
        else Console.Error.WriteLine("OpenBLAS not found (apt-get install libopenblas0-pthread): reporting SeekSharp alone.");
        Console.WriteLine($"threads={threads} avx512={System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");
        Console.WriteLine("layout  size   SeekSharp GFLOP/s   OpenBLAS GFLOP/s   ratio");
        foreach (var layout in new[] { "NT", "NN" })
            foreach (int s in sizes)
            {
                var rng = new Random(1);
                var a = new float[s * s]; var b = new float[s * s]; var c = new float[s * s];
                for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble(); b[i] = (float)rng.NextDouble(); }
                bool nt = layout == "NT";
                Action ours = () => Gemm.Multiply(pool, s, s, s, a, s, false, b, s, nt, c, s);
                Action? peer = OpenBlas.Available ? (nt ? () => OpenBlas.MultiplyNT(s, s, s, a, b, c) : () => OpenBlas.MultiplyNN(s, s, s, a, b, c)) : null;
                double flops = 2.0 * s * s * s;
                double oursBest = 0, peerBest = 0;
                // Alternate rounds so that both see the same machine conditions.
                var until = Stopwatch.StartNew();
                ours(); peer?.Invoke();
                while (until.Elapsed.TotalSeconds < seconds)
                {
                    oursBest = Math.Max(oursBest, flops / Time(ours) / 1e9);
                    if (peer is not null) peerBest = Math.Max(peerBest, flops / Time(peer) / 1e9);
                }
                string ratio = peer is null ? "-" : $"{oursBest / peerBest:P0}";
                Console.WriteLine($"{layout,-6}  {s,5}   {oursBest,17:F1}   {(peer is null ? "-" : peerBest.ToString("F1")),16}   {ratio}");
            }
        return 0;
    }

    private static double Time(Action f)
    {
        var sw = Stopwatch.StartNew();
        f();
        return sw.Elapsed.TotalSeconds;
    }
}
