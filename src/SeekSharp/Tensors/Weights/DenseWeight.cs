using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Tensors.Weights;

/// <summary>
/// A float32, BF16 or F16 matrix: an array this object owns (<see cref="Float32Array"/> is what training updates), or
/// elements viewed in place in memory kept alive by an owner (a memory-mapped checkpoint). The kernel is the float
/// GEMM, which widens 16-bit weights while it packs them.
/// </summary>
public sealed unsafe class DenseWeight : WeightMatrix
{
    private readonly float[]? _f32;
    private readonly ushort[]? _half;
    private readonly void* _external;
    private readonly object? _owner;

    public ElementType ElementType { get; }
    public override WeightFormat Format => ElementType.ToWeightFormat();
    public override long ByteSize => (long)Rows * Cols * ElementType.ByteSize();
    public override bool IsView => _external != null;

    /// <summary>The owned float32 array (F32 storage that is not a view), else null.</summary>
    public float[]? Float32Array => _f32;

    private DenseWeight(ElementType type, int rows, int cols, float[]? f32, ushort[]? half, void* external, object? owner) : base(rows, cols)
    {
        if ((long)rows * cols > Array.MaxLength)
            throw new ArgumentException($"A dense matrix [{rows}, {cols}] has more elements than one array can hold.");
        (ElementType, _f32, _half, _owner) = (type, f32, half, owner);
        _external = external;
    }

    /// <summary>A zeroed matrix of <paramref name="type"/>.</summary>
    public static DenseWeight Zeros(ElementType type, int rows, int cols)
    {
        int size = checked(rows * cols);
        return type == ElementType.F32
            ? new DenseWeight(type, rows, cols, new float[size], null, null, null)
            : new DenseWeight(type, rows, cols, null, new ushort[size], null, null);
    }

    /// <summary>Owns <paramref name="values"/> ([rows, cols] float32) without copying.</summary>
    public static DenseWeight Wrap(float[] values, int rows, int cols)
    {
        if (values.Length != (long)rows * cols) throw new ArgumentException($"{values.Length} values for a [{rows}, {cols}] matrix.", nameof(values));
        return new DenseWeight(ElementType.F32, rows, cols, values, null, null, null);
    }

    /// <summary>A copy of <paramref name="values"/> in <paramref name="type"/> (rounded to nearest even for BF16 and F16).</summary>
    public static DenseWeight FromFloat32(ElementType type, ReadOnlySpan<float> values, int rows, int cols)
    {
        if (values.Length != (long)rows * cols) throw new ArgumentException($"{values.Length} values for a [{rows}, {cols}] matrix.", nameof(values));
        var w = Zeros(type, rows, cols);
        if (w._f32 is { } f) values.CopyTo(f);
        else HalfConversion.FromSingle(type, values, w._half);
        return w;
    }

    /// <summary>
    /// Views rows·cols elements of <paramref name="type"/> at <paramref name="data"/> (little-endian, row-major), valid
    /// as long as <paramref name="owner"/> is alive and not disposed.
    /// </summary>
    public static DenseWeight View(ElementType type, int rows, int cols, void* data, object owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (data == null) throw new ArgumentNullException(nameof(data));
        return new DenseWeight(type, rows, cols, null, null, data, owner);
    }

    private int Count => Rows * Cols;
    private ReadOnlySpan<float> F32 => _f32 ?? new ReadOnlySpan<float>(_external, Count);
    private ReadOnlySpan<ushort> Half => _half ?? new ReadOnlySpan<ushort>(_external, Count);

    protected override void MultiplyRowsCore(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, int rowStart, int rowCount,
        bool asTransposed, Span<float> y, int ldy, bool accumulate)
    {
        int cols = Cols;
        int n = asTransposed ? rowCount : cols, k = asTransposed ? cols : rowCount;
        if (ElementType == ElementType.F32)
            Gemm.Multiply(pool, m, n, k, x, ldx, false, F32.Slice(rowStart * cols, rowCount * cols), cols, asTransposed, y, ldy, accumulate);
        else
            Gemm.Multiply(pool, m, n, k, x, ldx, false, Half.Slice(rowStart * cols, rowCount * cols), ElementType, cols, asTransposed, y, ldy, accumulate);
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"The matrix has {Rows} rows.");
        int cols = Cols;
        if (ElementType == ElementType.F32) F32.Slice(row * cols, cols).CopyTo(destination);
        else HalfConversion.ToSingle(ElementType, Half.Slice(row * cols, cols), destination[..cols]);
    }

    public override void Dequantize(Span<float> destination)
    {
        if (destination.Length < Count) throw new ArgumentException($"Destination holds {destination.Length} values; [{Rows}, {Cols}] needs {Count}.", nameof(destination));
        if (ElementType == ElementType.F32) F32.CopyTo(destination);
        else HalfConversion.ToSingle(ElementType, Half, destination[..Count]);
    }

    /// <summary>The stored 16-bit elements (BF16 or F16), row-major.</summary>
    public ReadOnlySpan<ushort> HalfElements => ElementType == ElementType.F32 ? throw new InvalidOperationException("F32 storage has no 16-bit elements.") : Half;

    /// <summary>The stored float32 elements, row-major.</summary>
    public ReadOnlySpan<float> Float32Elements => ElementType == ElementType.F32 ? F32 : throw new InvalidOperationException($"{ElementType} storage has no float32 elements.");

    internal object? Owner => _owner;
}
