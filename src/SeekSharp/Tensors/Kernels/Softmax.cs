using System.Numerics.Tensors;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// Numerically stable softmax: exp(x − max) / Σ exp(x − max). (TensorPrimitives.SoftMax does not subtract the
/// maximum, so large logits overflow there.) Entries equal to −∞ get probability 0; a row of all −∞ is an error
/// upstream (a fully masked attention row cannot happen with a causal mask).
/// </summary>
public static class Softmax
{
    public static void Forward(ReadOnlySpan<float> x, Span<float> y) => ForwardWithLogSumExp(x, y);

    public static void InPlace(Span<float> x) => Forward(x, x);

    /// <summary>y = softmax(x), and returns log Σ exp(x) from the same pass (cross-entropy needs both).</summary>
    public static float ForwardWithLogSumExp(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Softmax: destination too short.");
        y = y[..x.Length];
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        float sum = TensorPrimitives.Sum(y);
        TensorPrimitives.Multiply(y, 1f / sum, y);
        return max + MathF.Log(sum);
    }

    /// <summary>log Σ exp(x), stably; with it, log_softmax(x)_i = x_i − LogSumExp(x).</summary>
    public static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        double sum = 0;
        foreach (var v in x) sum += Math.Exp(v - max);
        return max + (float)Math.Log(sum);
    }

    public static void Reference(ReadOnlySpan<float> x, Span<float> y)
    {
        double max = double.NegativeInfinity;
        foreach (var v in x) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        for (int i = 0; i < x.Length; i++) y[i] = (float)(Math.Exp(x[i] - max) / sum);
    }
}
