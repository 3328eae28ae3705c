using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>An RMSNorm with its learned weight (docs/architecture.md §3): y = w ⊙ x / sqrt(mean(x²) + ε).</summary>
public sealed class RmsNormLayer(Parameter weight, float eps)
{
    public Parameter Weight { get; } = weight;
    public float Eps { get; } = eps;
    public int Dim => Weight.Size;

    /// <summary>Normalises every row of x [n, d] into y [n, d]; rstd receives 1/rms per row when not empty.</summary>
    public void Forward(Tensor x, Tensor y, Span<float> rstd = default) => RmsNorm.Forward(x, Weight.Span, Eps, y, rstd);

    /// <summary>Strided form: row r of x starts at r·ldx.</summary>
    public void Forward(int rows, ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy, Span<float> rstd = default)
    {
        int d = Dim;
        var w = Weight.Span;
        for (int r = 0; r < rows; r++)
        {
            float s = RmsNorm.Forward(x.Slice(r * ldx, d), w, Eps, y.Slice(r * ldy, d));
            if (!rstd.IsEmpty) rstd[r] = s;
        }
    }

    /// <summary>
    /// Backward over rows: dx (+)= ∂L/∂x given dy, the forward input x and its rstd; accumulates the weight's gradient.
    /// Strided like <see cref="Forward(int, ReadOnlySpan{float}, int, Span{float}, int, Span{float})"/>.
    /// </summary>
    public void Backward(int rows, ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> rstd, ReadOnlySpan<float> dy, int lddy,
        Span<float> dx, int lddx, bool accumulate)
    {
        int d = Dim;
        var w = Weight.Span;
        var dw = Weight.Grad ?? throw new InvalidOperationException($"{Weight.Name} has no gradient buffer.");
        for (int r = 0; r < rows; r++)
            RmsNorm.Backward(dy.Slice(r * lddy, d), x.Slice(r * ldx, d), w, rstd[r], dx.Slice(r * lddx, d), dw, accumulate);
    }

    public void Backward(Tensor x, ReadOnlySpan<float> rstd, Tensor dy, Tensor dx, bool accumulate) =>
        Backward(x.Rows, x.Span, Dim, rstd, dy.Span, Dim, dx.Span, Dim, accumulate);
}
