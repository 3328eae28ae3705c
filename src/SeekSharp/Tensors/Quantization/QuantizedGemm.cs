using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// y[m, Rows] (+)= x[m, Cols] · Wᵀ with W a <see cref="QuantizedMatrix"/> (the <c>nn.Linear</c> product), over a
/// <see cref="WorkerPool"/>, allocation-free once warm.
/// </summary>
/// <remarks>
/// <para>x is quantised per row to int8 blocks of 32 (<see cref="QuantizedActivations"/>) once per call, so that every
/// block product is an integer dot product: Σ_b d_w(b)·s_x(b)·Σ_k q_w·q_x. That is what llama.cpp does, and it is
/// faster than widening weights to float, for an error of ~0.5% of the output's RMS on top of the weights' own
/// (docs/quantization.md has the measurements); <see cref="QuantizedGemmReference"/> holds both definitions.</para>
/// <para>Short left-hand sides (decode) dot whole stored rows; from <see cref="PanelMinRows"/> rows on (prefill,
/// expert batches) weights are packed per work item into 8-row panels and multiplied by 4-row activation tiles
/// (QuantizedGemmContext describes both). Work is split over output rows; each y element is computed by one thread
/// in a fixed order, so the result does not depend on the thread count.</para>
/// </remarks>
public static unsafe class QuantizedGemm
{
    /// <summary>Weight rows per parallel work item on the row-dot path.</summary>
    public const int RowsPerItem = 32;

    /// <summary>
    /// How far ahead (in blocks) the kernels ask for weight bytes with a software prefetch. With the weights in DRAM
    /// (as in decoding: caches evicted before each call), 2 threads, [32000 × 1024] and [16384 × 2048], the GEMV gained
    /// 16–28% over the hardware prefetcher alone; 128 blocks (4.3 KiB of Q8_0, 2.3 KiB of Q4_0) was at least as good
    /// as 32, 64 or 256 for both formats.
    /// </summary>
    internal const int PrefetchBlocks = 128;

    /// <summary>
    /// From this many activation rows on, weights are packed into panels (<see cref="PackedPanel"/>): the measured
    /// crossover (one thread, [1024 × 1024] and [8192 × 1024]) is 3 rows for Q4_0 and 4 for Q8_0.
    /// </summary>
    public static int PanelMinRows(QuantType type) => type == QuantType.Q4_0 ? 3 : 4;

    /// <summary>y[i, j] (+)= Σ_p x[i, p]·W[j, p] for i &lt; m, j &lt; w.Rows; x and y are row-major with leading dimensions.</summary>
    public static void Multiply(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, QuantizedMatrix w, Span<float> y, int ldy, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        MultiplyRows(pool, m, x, ldx, w, 0, w.Rows, asTransposed: true, y, ldy, accumulate);
    }

    /// <summary>
    /// The product with a block of W's rows, R = W[rowStart : rowStart + rowCount, :], as <c>Linear.MultiplyRows</c>
    /// does for float weights: with <paramref name="asTransposed"/> y[m, rowCount] (+)= x[m, Cols] · Rᵀ (e.g. one head's
    /// rows of a projection; the integer kernels above), otherwise y[m, Cols] (+)= x[m, rowCount] · R (MLA's absorbed
    /// attention; <see cref="RowSumKernels"/>, with x kept in float).
    /// </summary>
    public static void MultiplyRows(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, QuantizedMatrix w, int rowStart, int rowCount,
        bool asTransposed, Span<float> y, int ldy, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(w);
        if (rowStart < 0 || rowCount < 0 || rowStart > w.Rows - rowCount)
            throw new ArgumentOutOfRangeException(nameof(rowStart), $"Rows [{rowStart}, {rowStart + rowCount}) are not inside the matrix's {w.Rows}.");
        int inputs = asTransposed ? w.Cols : rowCount, outputs = asTransposed ? rowCount : w.Cols;
        Validate(m, x.Length, ldx, inputs, y.Length, ldy, outputs);
        if (m == 0 || outputs == 0) return;
        fixed (float* px = x) fixed (float* py = y)
        {
            if (inputs == 0)
            {
                if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(py + (long)i * ldy, outputs).Clear();
                return;
            }
            if (!Avx2.IsSupported || !Fma.IsSupported)
            {
                ScalarFallback(m, px, ldx, w, rowStart, rowCount, asTransposed, py, ldy, accumulate);
                return;
            }
            var context = QuantizedGemmContext.ForThisThread();
            if (asTransposed) context.Run(pool, m, px, ldx, w, rowStart, rowCount, py, ldy, accumulate);
            else context.RunRowSums(pool, m, px, ldx, w, rowStart, rowCount, py, ldy, accumulate);
        }
    }

    /// <inheritdoc cref="QuantizedGemmReference.Multiply"/>
    public static void Reference(int m, ReadOnlySpan<float> x, int ldx, QuantizedMatrix w, Span<float> y, int ldy, bool accumulate = false)
        => QuantizedGemmReference.Multiply(m, x, ldx, w, y, ldy, accumulate);

    // x [m, inputs] and y [m, outputs] as strided views.
    internal static void Validate(int m, int xLength, int ldx, int inputs, int yLength, int ldy, int outputs)
    {
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "The row count must be non-negative.");
        if (m == 0 || outputs == 0) return;
        Need("x", xLength, m, inputs, ldx);
        Need("y", yLength, m, outputs, ldy);

        static void Need(string name, int length, int rows, int cols, int ld)
        {
            if (ld < cols) throw new ArgumentException($"Leading dimension of {name} ({ld}) is smaller than its row length ({cols}).");
            long needed = (long)(rows - 1) * ld + cols;
            if (length < needed) throw new ArgumentException($"{name} holds {length} elements but a [{rows}, {cols}] view with leading dimension {ld} needs {needed}.");
        }
    }

    // Without AVX2 and FMA: the integer model of the reference (transposed) or the plain sum of rows, element by element.
    // Slow, and the same numbers up to the order of float additions; not a target, but it must still be right.
    private static void ScalarFallback(int m, float* x, int ldx, QuantizedMatrix w, int rowStart, int rowCount, bool asTransposed,
        float* y, int ldy, bool accumulate)
    {
        int inputs = asTransposed ? w.Cols : rowCount, outputs = asTransposed ? rowCount : w.Cols;
        var xs = new ReadOnlySpan<float>(x, (m - 1) * ldx + inputs);
        var ys = new Span<float>(y, (m - 1) * ldy + outputs);
        if (asTransposed)
        {
            QuantizedGemmReference.IntegerModel(m, xs, ldx, w, rowStart, rowCount, ys, ldy, accumulate);
            return;
        }
        var row = new float[w.Cols];
        for (int i = 0; i < m; i++)
            if (!accumulate) ys.Slice(i * ldy, outputs).Clear();
        for (int r = 0; r < rowCount; r++)
        {
            w.DequantizeRow(rowStart + r, row);
            for (int i = 0; i < m; i++)
                for (int c = 0; c < outputs; c++) ys[i * ldy + c] += xs[i * ldx + r] * row[c];
        }
    }
}
