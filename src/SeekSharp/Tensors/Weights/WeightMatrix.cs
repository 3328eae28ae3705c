using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Tensors.Weights;

/// <summary>
/// A weight matrix W [Rows = out, Cols = in] in one storage format, with the products a layer needs. Every format
/// computes in float32 with exactly the values its storage means; each has its own kernel (<see cref="DenseWeight"/>,
/// <see cref="Fp8BlockWeight"/>, <see cref="BlockQuantWeight"/>), and <c>Linear</c> calls them through this one type.
/// </summary>
/// <remarks>
/// Storage is either owned (a pinned array) or viewed in memory that another object keeps alive, such as a
/// memory-mapped checkpoint (<see cref="IsView"/>): a checkpoint whose stored format is the compute format is used
/// where it lies, never copied.
/// </remarks>
public abstract class WeightMatrix
{
    protected WeightMatrix(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        (Rows, Cols) = (rows, cols);
    }

    /// <summary>Output dimension.</summary>
    public int Rows { get; }
    /// <summary>Input dimension.</summary>
    public int Cols { get; }
    public abstract WeightFormat Format { get; }
    /// <summary>Bytes of storage (codes and scales).</summary>
    public abstract long ByteSize { get; }
    /// <summary>Whether the storage is viewed in memory that this object does not own (a mapped file).</summary>
    public abstract bool IsView { get; }

    /// <summary>y[n, Rows] (+)= x[n, Cols] · Wᵀ; x and y row-major with leading dimensions ldx, ldy.</summary>
    public void Multiply(WorkerPool pool, int n, ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy, bool accumulate = false) =>
        MultiplyRows(pool, n, x, ldx, 0, Rows, asTransposed: true, y, ldy, accumulate);

    /// <summary>
    /// The product with a block of rows R = W[rowStart : rowStart + rowCount, :]: with <paramref name="asTransposed"/>
    /// y[m, rowCount] (+)= x[m, Cols] · Rᵀ, otherwise y[m, Cols] (+)= x[m, rowCount] · R (MLA's absorbed attention
    /// multiplies by per-head blocks of kv_b_proj both ways).
    /// </summary>
    public void MultiplyRows(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, int rowStart, int rowCount, bool asTransposed,
        Span<float> y, int ldy, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (rowStart < 0 || rowCount < 0 || rowStart > Rows - rowCount)
            throw new ArgumentOutOfRangeException(nameof(rowStart), $"Rows [{rowStart}, {rowStart + rowCount}) are not inside the matrix's {Rows}.");
        MultiplyRowsCore(pool, m, x, ldx, rowStart, rowCount, asTransposed, y, ldy, accumulate);
    }

    /// <summary>The format's kernel for <see cref="MultiplyRows"/> (arguments checked).</summary>
    protected abstract void MultiplyRowsCore(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, int rowStart, int rowCount,
        bool asTransposed, Span<float> y, int ldy, bool accumulate);

    /// <summary>Row <paramref name="row"/> as float32 (Cols values): an embedding lookup.</summary>
    public abstract void ReadRow(int row, Span<float> destination);

    /// <summary>All values as float32, row-major [Rows, Cols]: the reference meaning of the storage.</summary>
    public virtual void Dequantize(Span<float> destination)
    {
        if (destination.Length < (long)Rows * Cols)
            throw new ArgumentException($"Destination holds {destination.Length} values; [{Rows}, {Cols}] needs {(long)Rows * Cols}.", nameof(destination));
        for (int r = 0; r < Rows; r++) ReadRow(r, destination.Slice(r * Cols, Cols));
    }

    /// <summary>The plain reference product, y[n, Rows] (+)= x · Wᵀ from the dequantised rows, for tests of the kernels.</summary>
    public void MultiplyReference(int n, ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy, bool accumulate = false)
    {
        var row = new float[Cols];
        for (int j = 0; j < Rows; j++)
        {
            ReadRow(j, row);
            for (int i = 0; i < n; i++)
            {
                double sum = 0;
                for (int p = 0; p < Cols; p++) sum += (double)x[i * ldx + p] * row[p];
                y[i * ldy + j] = (float)(accumulate ? y[i * ldy + j] + sum : sum);
            }
        }
    }

    /// <summary>
    /// Stores <paramref name="values"/> ([rows, cols] row-major float32) in <paramref name="format"/>: a copy for F32,
    /// a rounding for BF16 and F16, a block quantisation for FP8, Q8_0 and Q4_0.
    /// </summary>
    public static WeightMatrix FromFloat32(WeightFormat format, ReadOnlySpan<float> values, int rows, int cols, WorkerPool? pool = null) => format switch
    {
        WeightFormat.F32 or WeightFormat.BF16 or WeightFormat.F16 => DenseWeight.FromFloat32(format.ElementType()!.Value, values, rows, cols),
        WeightFormat.Fp8E4M3 => Fp8BlockWeight.Quantize(values, rows, cols),
        WeightFormat.Q8_0 or WeightFormat.Q4_0 => new BlockQuantWeight(Quantization.QuantizedMatrix.Quantize(format.QuantType()!.Value, values, rows, cols, pool)),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown weight format."),
    };

    public override string ToString() => $"{Format.Name()} [{Rows}, {Cols}]{(IsView ? " (mapped)" : "")}";

    // Shared by kernels that widen a few rows to float32 and multiply with the float GEMM.
    internal static void MultiplyDequantizedRows(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> rows, int rowCount,
        int cols, bool asTransposed, Span<float> y, int ldy, bool accumulate)
    {
        if (asTransposed) Gemm.Multiply(pool, m, rowCount, cols, x, ldx, false, rows, cols, true, y, ldy, accumulate);
        else Gemm.Multiply(pool, m, cols, rowCount, x, ldx, false, rows, cols, false, y, ldy, accumulate);
    }
}
