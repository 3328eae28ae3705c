using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// A bias-free projection y = x·Wᵀ with W [out, in] (PyTorch's nn.Linear layout), over whatever storage the weight
/// has (its <see cref="Tensors.Weights.WeightMatrix"/> kernel), and its two backward products (float32 weights).
/// </summary>
public static class Linear
{
    /// <summary>y[n, out] (+)= x[n, in] · Wᵀ; x and y may be strided views (leading dimensions ldx, ldy).</summary>
    public static void Forward(WorkerPool pool, int n, ReadOnlySpan<float> x, int ldx, Parameter w, Span<float> y, int ldy, bool accumulate = false) =>
        w.Weight.Multiply(pool, n, x, ldx, y, ldy, accumulate);

    /// <summary>y[n, out] (+)= x[n, in] · Wᵀ for contiguous tensors.</summary>
    public static void Forward(WorkerPool pool, Tensor x, Parameter w, Tensor y, bool accumulate = false)
    {
        if (x.Cols != w.Cols || y.Cols != w.Rows || x.Rows != y.Rows)
            throw new ArgumentException($"{w.Name}: x {x.Shape} · W{w.Shape}ᵀ → y {y.Shape} does not fit.");
        Forward(pool, x.Rows, x.Span, x.Cols, w, y.Span, y.Cols, accumulate);
    }

    /// <summary>
    /// Multiplies by a block of rows of W: with <paramref name="asTransposed"/> y[m, rows] (+)= x[m, in] · W[r0:r0+rows, :]ᵀ,
    /// otherwise y[m, in] (+)= x[m, rows] · W[r0:r0+rows, :]. MLA's absorbed form multiplies by per-head blocks of kv_b_proj this way.
    /// </summary>
    public static void MultiplyRows(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, Parameter w, int rowStart, int rowCount,
        bool asTransposed, Span<float> y, int ldy, bool accumulate = false) =>
        w.Weight.MultiplyRows(pool, m, x, ldx, rowStart, rowCount, asTransposed, y, ldy, accumulate);

    /// <summary>dx[n, in] (+)= dy[n, out] · W.</summary>
    public static void BackwardInput(WorkerPool pool, int n, ReadOnlySpan<float> dy, int lddy, Parameter w, Span<float> dx, int lddx, bool accumulate)
    {
        int outDim = w.Rows, inDim = w.Cols;
        Gemm.Multiply(pool, n, inDim, outDim, dy, lddy, false, w.Data ?? throw Float32Required(w), inDim, false, dx, lddx, accumulate);
    }

    /// <summary>dW[out, in] += dy[n, out]ᵀ · x[n, in].</summary>
    public static void BackwardWeight(WorkerPool pool, int n, ReadOnlySpan<float> dy, int lddy, ReadOnlySpan<float> x, int ldx, Parameter w)
    {
        int outDim = w.Rows, inDim = w.Cols;
        Gemm.Multiply(pool, outDim, inDim, n, dy, lddy, true, x, ldx, false, w.Grad ?? throw new InvalidOperationException($"{w.Name} has no gradient buffer."), inDim, accumulate: true);
    }

    private static InvalidOperationException Float32Required(Parameter w) =>
        new($"{w.Name} is stored as {w.Storage}; training needs owned float32 weights.");
}
