using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>An RMSNorm with its learned weight (spec §3): y = w ⊙ x / sqrt(mean(x²) + ε).</summary>
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
}
