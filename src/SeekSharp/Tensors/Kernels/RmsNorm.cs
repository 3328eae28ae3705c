using System.Numerics.Tensors;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// RMSNorm(x) = w ⊙ x / sqrt(mean(x²) + ε) (docs/architecture.md §3), computed in float32 with a vectorised sum of squares.
/// </summary>
public static class RmsNorm
{
    /// <summary>Normalises one row; returns 1/sqrt(mean(x²)+ε), which the backward pass reuses.</summary>
    public static float Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        if (weight.Length != x.Length || y.Length != x.Length)
            throw new ArgumentException($"RMSNorm: x has {x.Length} elements, weight {weight.Length}, y {y.Length}.");
        float meanSquare = TensorPrimitives.Dot(x, x) / x.Length;
        float rstd = 1f / MathF.Sqrt(meanSquare + eps);
        TensorPrimitives.Multiply(x, rstd, y);
        TensorPrimitives.Multiply(y, weight, y);
        return rstd;
    }

    /// <summary>Normalises every row of x [rows, d] into y [rows, d]; rstd (optional) receives one value per row.</summary>
    public static void Forward(Tensor x, ReadOnlySpan<float> weight, float eps, Tensor y, Span<float> rstd = default)
    {
        if (x.Shape != y.Shape) throw new ArgumentException($"RMSNorm: x {x.Shape} and y {y.Shape} differ.");
        for (int r = 0; r < x.Rows; r++)
        {
            float s = Forward(x.Row(r), weight, eps, y.Row(r));
            if (!rstd.IsEmpty) rstd[r] = s;
        }
    }

    /// <summary>The plain definition, in double: the oracle for tests.</summary>
    public static void Reference(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        double sum = 0;
        foreach (var v in x) sum += (double)v * v;
        double rstd = 1.0 / Math.Sqrt(sum / x.Length + eps);
        for (int i = 0; i < x.Length; i++) y[i] = (float)(weight[i] * (x[i] * rstd));
    }

    /// <summary>
    /// Backward of one row: given dy, x, w and the forward's rstd, accumulates dw += dy ⊙ x̂ and writes (or, with
    /// <paramref name="accumulate"/>, adds) dx. With x̂ = x·rstd and g = dy ⊙ w: dx = rstd · (g − x̂ · mean(g ⊙ x̂)).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float rstd,
        Span<float> dx, Span<float> dWeightAccumulator, bool accumulate = false)
    {
        int d = x.Length;
        float dot = 0;
        for (int i = 0; i < d; i++) dot += dy[i] * weight[i] * x[i];
        dot *= rstd / d;                                   // mean(g ⊙ x̂)
        float c = rstd * rstd * dot;                       // x̂·rstd·mean = x·rstd²·mean
        for (int i = 0; i < d; i++)
        {
            float xi = x[i], dyi = dy[i];
            dWeightAccumulator[i] += dyi * xi * rstd;
            float v = rstd * dyi * weight[i] - xi * c;
            dx[i] = accumulate ? dx[i] + v : v;
        }
    }

    /// <summary>The backward in double, for tests.</summary>
    public static void BackwardReference(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps,
        Span<float> dx, Span<float> dWeight)
    {
        int d = x.Length;
        double ss = 0;
        foreach (var v in x) ss += (double)v * v;
        double r = 1.0 / Math.Sqrt(ss / d + eps);
        double dot = 0;
        for (int i = 0; i < d; i++) dot += (double)dy[i] * weight[i] * x[i];
        for (int i = 0; i < d; i++)
        {
            dWeight[i] += (float)(dy[i] * x[i] * r);
            dx[i] = (float)(r * dy[i] * weight[i] - x[i] * r * r * r * dot / d);
        }
    }
}
