using System.Diagnostics;
using System.Numerics.Tensors;

namespace SeekSharp.Bench;

/// <summary>
/// The host's memory read bandwidth, the bound of decoding: <c>threads</c> threads each sum their share of a buffer
/// much larger than the caches (STREAM's "sum" kernel, read only); best of <c>passes</c>, in GB/s (10^9 bytes).
/// Decode rows divide the bytes of weights each token reads by their time per token and compare with this.
/// </summary>
internal static class ReadBandwidth
{
    public static double Measure(int threads, int megabytes = 1024, int passes = 7)
    {
        var buffer = new float[megabytes * (1L << 20) / sizeof(float)];
        for (long i = 0; i < buffer.Length; i += 1024) buffer[i] = 1;   // touch every page
        var partial = new float[threads];
        long share = buffer.Length / threads;
        double best = 0;
        for (int pass = 0; pass <= passes; pass++)   // pass 0 warms up
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                float sum = 0;
                for (long start = t * share, end = start + share; start < end; start += 1 << 20)
                    sum += TensorPrimitives.Sum(new ReadOnlySpan<float>(buffer, (int)start, (int)Math.Min(1 << 20, end - start)));
                partial[t] = sum;
            });
            double seconds = sw.Elapsed.TotalSeconds;
            if (pass > 0) best = Math.Max(best, share * threads * (double)sizeof(float) / seconds / 1e9);
        }
        GC.KeepAlive(partial);
        return best;
    }
}
