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
                var (ours, peer) = Measure(pool, s, layout == "NT", seconds);
                string ratio = peer is { } p ? $"{ours / p:P0}" : "-";
                Console.WriteLine($"{layout,-6}  {s,5}   {ours,17:F1}   {(peer is { } q ? q.ToString("F1") : "-"),16}   {ratio}");
            }
        return 0;
    }

    /// <summary>
    /// Best GFLOP/s of SeekSharp's <see cref="Gemm"/> and of OpenBLAS (null when not installed) on an s³ product,
    /// C = A·Bᵀ (<paramref name="nt"/>, the weight layout of nn.Linear) or C = A·B, alternating calls for
    /// <paramref name="seconds"/>.
    /// </summary>
    public static (double Ours, double? Peer) Measure(WorkerPool pool, int s, bool nt, double seconds)
    {
        var rng = new Random(1);
        var a = new float[s * s]; var b = new float[s * s]; var c = new float[s * s];
        for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble(); b[i] = (float)rng.NextDouble(); }
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
        return (oursBest, peer is null ? null : peerBest);
    }

    private static double Time(Action f)
    {
        var sw = Stopwatch.StartNew();
        f();
        return sw.Elapsed.TotalSeconds;
    }
}
