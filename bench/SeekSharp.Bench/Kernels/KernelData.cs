namespace SeekSharp.Bench.Kernels;

/// <summary>Deterministic inputs for the kernel benchmarks: uniform in [−scale, scale), one seed per array.</summary>
internal static class KernelData
{
    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }
}
