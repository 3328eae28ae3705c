using System.Numerics.Tensors;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// RMSNorm(x) = w ⊙ x / sqrt(mean(x²) + ε) (spec §3), computed in float32 with a vectorised sum of squares.
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
    /// Backward of one row: given dy, x, w and the forward's rstd, accumulates dw += dy ⊙ x̂ and writes dx.
    /// With x̂ = x·rstd: dx = rstd · (g − x̂ · mean(g ⊙ x̂)), where g = dy ⊙ w.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float rstd,
        Span<float> dx, Span<float> dWeightAccumulator, Span<float> scratch)
    {
        int d = x.Length;
        var g = scratch[..d];
        TensorPrimitives.Multiply(dy, weight, g);                       // g = dy ⊙ w
        float dot = TensorPrimitives.Dot(g, x) * rstd / d;              // mean(g ⊙ x̂)
        // dW += dy ⊙ x̂
        for (int i = 0; i < d; i++) dWeightAccumulator[i] += dy[i] * x[i] * rstd;
        // dx = rstd·g − x·rstd²·dot  (x̂·rstd = x·rstd²)
        float c = rstd * rstd * dot;
        for (int i = 0; i < d; i++) dx[i] = rstd * g[i] - x[i] * c;
    }
}
