namespace SeekSharp.Tensors;

/// <summary>
/// A strided float32 matrix view, the operand of <see cref="Kernels.Gemm"/>: element (i, j) of the [Rows, Cols] matrix
/// it shows is Buffer[Offset + i·Ld + j], or, when <see cref="Transposed"/>, Buffer[Offset + j·Ld + i]. Blocks and the
/// transpose are views too, so kernels read like the math: <c>Gemm.Multiply(pool, q, k.T, scores)</c>.
/// </summary>
public readonly struct MatrixView
{
    public readonly float[] Buffer;
    public readonly int Offset;
    public readonly int Rows;
    public readonly int Cols;
    /// <summary>Distance between consecutive stored rows (stored rows are this view's columns when transposed).</summary>
    public readonly int Ld;
    public readonly bool Transposed;

    public MatrixView(float[] buffer, int offset, int rows, int cols, int ld, bool transposed = false)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), "A view's sizes must be non-negative.");
        int storedCols = transposed ? rows : cols, storedRows = transposed ? cols : rows;
        if (ld < storedCols) throw new ArgumentException($"Leading dimension {ld} is smaller than a stored row ({storedCols}).", nameof(ld));
        if (storedRows > 0 && storedCols > 0 && offset + (long)(storedRows - 1) * ld + storedCols > buffer.Length)
            throw new ArgumentException($"A [{rows}, {cols}] view at {offset} with leading dimension {ld} does not fit in {buffer.Length} elements.");
        (Buffer, Offset, Rows, Cols, Ld, Transposed) = (buffer, offset, rows, cols, ld, transposed);
    }

    /// <summary>The transpose: [Cols, Rows] over the same elements.</summary>
    public MatrixView T => new(Buffer, Offset, Cols, Rows, Ld, !Transposed);

    /// <summary>Rows [r0, r0 + rows) and columns [c0, c0 + cols) of this view.</summary>
    public MatrixView Block(int r0, int rows, int c0, int cols)
    {
        if (r0 < 0 || rows < 0 || r0 + rows > Rows || c0 < 0 || cols < 0 || c0 + cols > Cols)
            throw new ArgumentOutOfRangeException(nameof(r0), $"Block [{r0}:{r0 + rows}, {c0}:{c0 + cols}] is outside a [{Rows}, {Cols}] view.");
        int offset = Transposed ? Offset + c0 * Ld + r0 : Offset + r0 * Ld + c0;
        return new MatrixView(Buffer, offset, rows, cols, Ld, Transposed);
    }

    /// <summary>Rows [r0, r0 + count).</summary>
    public MatrixView RowRange(int r0, int count) => Block(r0, count, 0, Cols);

    /// <summary>Columns [c0, c0 + count).</summary>
    public MatrixView ColumnRange(int c0, int count) => Block(0, Rows, c0, count);

    /// <summary>The stored elements from the first on (what the span-based kernels take with <see cref="Ld"/>).</summary>
    public Span<float> Storage => Buffer.AsSpan(Offset);

    public override string ToString() => $"[{Rows}, {Cols}] ld {Ld}{(Transposed ? " ᵀ" : "")}";
}
