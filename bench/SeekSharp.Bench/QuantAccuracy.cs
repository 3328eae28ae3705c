using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Bench;

/// <summary>
/// How much each format loses, on Gaussian weights N(0, 0.02²) and two kinds of activations (Gaussian, and Gaussian
/// with 1% outlier channels 20× larger, as LLM hidden states have): the weights' RMS error relative to their RMS, and
/// the error of y = x·Wᵀ relative to the RMS of the exact float32 product, split into what the weights cost
/// (dequantised weights, exact activations) and what the kernels cost in total (int8 activations too).
/// </summary>
internal static class QuantAccuracy
{
    public static int Run(string[] args)
    {
        int rows = BenchArgs.GetInt(args, "--rows", 1024), cols = BenchArgs.GetInt(args, "--cols", 1024), m = BenchArgs.GetInt(args, "--m", 64);
        using var pool = new WorkerPool(BenchArgs.GetInt(args, "--threads", 2));
        var rng = new Random(7);
        var weights = Gaussian(rng, rows * cols, 0.02f);
        var plain = Gaussian(rng, m * cols, 1f);
        var outliers = (float[])plain.Clone();
        for (int c = 0; c < cols; c += 100)
            for (int i = 0; i < m; i++) outliers[i * cols + c] *= 20;
        var exactPlain = Product(pool, m, rows, cols, plain, weights);
        var exactOutliers = Product(pool, m, rows, cols, outliers, weights);

        Console.WriteLine($"W [{rows} x {cols}] ~ N(0, 0.02²), x [{m} x {cols}]; errors are RMS(error) / RMS(reference)");
        Console.WriteLine("format  bytes/w  weights   y: weights only  y: kernel (Gaussian x)  y: kernel (outlier x)");
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
        {
            var q = QuantizedMatrix.Quantize(type, weights, rows, cols, pool);
            var back = new float[weights.Length];
            q.Dequantize(back);
            var y = new float[m * rows];
            var weightOnly = Product(pool, m, rows, cols, plain, back);
            QuantizedGemm.Multiply(pool, m, plain, cols, q, y, rows);
            double kernelPlain = Relative(y, exactPlain);
            QuantizedGemm.Multiply(pool, m, outliers, cols, q, y, rows);
            double kernelOutliers = Relative(y, exactOutliers);
            Console.WriteLine($"{type,-6}  {type.BytesPerWeight(),7:F4}  {Relative(back, weights),7:P2}  {Relative(weightOnly, exactPlain),15:P2}  {kernelPlain,22:P2}  {kernelOutliers,21:P2}");
        }
        Console.WriteLine($"Q4_0 with llama.cpp's fixed scale d = max/-8 instead of the search: weights {Relative(FixedRuleQ4(weights), weights):P2}");
        return 0;
    }

    private static float[] Product(WorkerPool pool, int m, int rows, int cols, float[] x, float[] w)
    {
        var y = new float[m * rows];
        Gemm.Multiply(pool, m, rows, cols, x, cols, false, w, cols, true, y, rows);
        return y;
    }

    // llama.cpp's Q4_0 rule for comparison: d = m/−8 with m the element of largest magnitude, nearest levels.
    private static float[] FixedRuleQ4(float[] w)
    {
        var result = new float[w.Length];
        for (int b = 0; b < w.Length; b += 32)
        {
            float m = 0;
            for (int k = b; k < b + 32; k++) if (Math.Abs(w[k]) > Math.Abs(m)) m = w[k];
            float d = (float)(Half)(m / -8f);
            for (int k = b; k < b + 32; k++) result[k] = d == 0 ? 0 : d * Math.Clamp(MathF.Round(w[k] / d), -8, 7);
        }
        return result;
    }

    private static double Relative(float[] actual, float[] expected)
    {
        double error = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            error += Math.Pow((double)actual[i] - expected[i], 2);
            norm += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(error / norm);
    }

    private static float[] Gaussian(Random rng, int n, float std)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return a;
    }
}
