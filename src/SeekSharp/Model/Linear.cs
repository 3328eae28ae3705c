using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Model;

/// <summary>
/// A bias-free projection y = x·Wᵀ with W [out, in] (PyTorch's nn.Linear layout), over whatever storage the weight
/// has, and its two backward products.
/// </summary>
public static class Linear
{
    /// <summary>y[n, out] (+)= x[n, in] · Wᵀ; x and y may be strided views (leading dimensions ldx, ldy).</summary>
    public static void Forward(WorkerPool pool, int n, ReadOnlySpan<float> x, int ldx, Parameter w, Span<float> y, int ldy, bool accumulate = false)
    {
        int outDim = w.Rows, inDim = w.Cols;
        if (w.Quantized is { } q)
            QuantizedGemm.Multiply(pool, n, x, ldx, q, y, ldy, accumulate);
        else if (w.Data is { } data)
            Gemm.Multiply(pool, n, outDim, inDim, x, ldx, false, data, inDim, true, y, ldy, accumulate);
        else
            Gemm.Multiply(pool, n, outDim, inDim, x, ldx, false, w.HalfData, w.StorageType, inDim, true, y, ldy, accumulate);
    }

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
        bool asTransposed, Span<float> y, int ldy, bool accumulate = false)
    {
        int cols = w.Cols;
        int n = asTransposed ? rowCount : cols, k = asTransposed ? cols : rowCount;
        if (w.Quantized is { } q)
            QuantizedGemm.MultiplyRows(pool, m, x, ldx, q, rowStart, rowCount, asTransposed, y, ldy, accumulate);
        else if (w.Data is { } data)
            Gemm.Multiply(pool, m, n, k, x, ldx, false, data.AsSpan(rowStart * cols, rowCount * cols), cols, asTransposed, y, ldy, accumulate);
        else
            Gemm.Multiply(pool, m, n, k, x, ldx, false, w.HalfData.AsSpan(rowStart * cols, rowCount * cols), w.StorageType, cols, asTransposed, y, ldy, accumulate);
    }

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
        new($"{w.Name} is stored as {w.StorageType}; training needs float32 weights.");
}
