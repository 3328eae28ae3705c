using System.Numerics.Tensors;

namespace SeekSharp.Tensors.Kernels;

/// <summary>Small vector helpers over spans that the model code uses everywhere.</summary>
public static class VectorOps
{
    /// <summary>y += a·x.</summary>
    public static void AddScaled(ReadOnlySpan<float> x, float a, Span<float> y) => TensorPrimitives.MultiplyAdd(x, a, y, y);

    /// <summary>y += x.</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Add(y, x, y);

    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y) => TensorPrimitives.Dot(x, y);

    public static void Scale(Span<float> x, float a) => TensorPrimitives.Multiply(x, a, x);
}
