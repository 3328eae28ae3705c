using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Tensors.Weights;

/// <summary>
/// DeepSeek-V3's FP8 weights: one E4M3 byte per weight plus a float32 scale per blockRows × blockCols block
/// (<c>weight_scale_inv</c>, a multiplier despite its name), W[r, c] = e4m3(Q[r, c]) · S[r / blockRows, c / blockCols]
/// computed in float32 — the same product DeepSeek's <c>weight_dequant</c> computes, so the values are those of the
/// exactly dequantised checkpoint and nothing rounds them further.
/// </summary>
/// <remarks>
/// The kernel widens a band of rows at a time into a per-thread float32 buffer (a few hundred KiB, so it stays in
/// cache) and multiplies it with the float GEMM; bands run in parallel. Memory stays at one byte per weight.
/// </remarks>
public sealed unsafe class Fp8BlockWeight : WeightMatrix
{
    private readonly byte[]? _codes;
    private readonly byte* _external;
    private readonly object? _owner;
    private readonly float[] _scales;   // [ceil(Rows / BlockRows), ceil(Cols / BlockCols)]

    public int BlockRows { get; }
    public int BlockCols { get; }
    public override WeightFormat Format => WeightFormat.Fp8E4M3;
    public override long ByteSize => (long)Rows * Cols + (long)_scales.Length * sizeof(float);
    public override bool IsView => _external != null;

    /// <summary>The E4M3 codes, row-major [Rows, Cols].</summary>
    public ReadOnlySpan<byte> Codes => _codes ?? new ReadOnlySpan<byte>(_external, checked(Rows * Cols));

    /// <summary>The block scales, row-major [ceil(Rows / BlockRows), ceil(Cols / BlockCols)].</summary>
    public ReadOnlySpan<float> Scales => _scales;

    private Fp8BlockWeight(int rows, int cols, byte[]? codes, byte* external, object? owner, float[] scales, int blockRows, int blockCols)
        : base(rows, cols)
    {
        if ((long)rows * cols > Array.MaxLength) throw new ArgumentException($"An FP8 matrix [{rows}, {cols}] has more elements than one array can hold.");
        if (blockRows <= 0 || blockCols <= 0) throw new ArgumentOutOfRangeException(nameof(blockRows), "Block sizes must be positive.");
        long expected = (long)Fp8BlockQuantization.BlockCount(rows, blockRows) * Fp8BlockQuantization.BlockCount(cols, blockCols);
        if (scales.Length != expected)
            throw new ArgumentException($"An FP8 matrix [{rows}, {cols}] with {blockRows}×{blockCols} blocks needs {expected} scales, not {scales.Length}.", nameof(scales));
        foreach (var s in scales)
            if (!float.IsFinite(s)) throw new ArgumentException($"An FP8 block scale is {s}; scales must be finite.", nameof(scales));
        (_codes, _owner, _scales, BlockRows, BlockCols) = (codes, owner, scales, blockRows, blockCols);
        _external = external;
    }

    /// <summary>Owns copies of <paramref name="codes"/> and <paramref name="scales"/>.</summary>
    public static Fp8BlockWeight FromCodes(ReadOnlySpan<byte> codes, ReadOnlySpan<float> scales, int rows, int cols,
        int blockRows = Fp8BlockQuantization.DefaultBlockSize, int blockCols = Fp8BlockQuantization.DefaultBlockSize)
    {
        if (codes.Length != (long)rows * cols) throw new ArgumentException($"{codes.Length} codes for a [{rows}, {cols}] matrix.", nameof(codes));
        return new Fp8BlockWeight(rows, cols, codes.ToArray(), null, null, scales.ToArray(), blockRows, blockCols);
    }

    /// <summary>
    /// Views rows·cols E4M3 codes at <paramref name="codes"/> in place (valid while <paramref name="owner"/> lives and is
    /// not disposed); the scales, a few KiB, are copied.
    /// </summary>
    public static Fp8BlockWeight View(byte* codes, ReadOnlySpan<float> scales, int rows, int cols, int blockRows, int blockCols, object owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (codes == null) throw new ArgumentNullException(nameof(codes));
        return new Fp8BlockWeight(rows, cols, null, codes, owner, scales.ToArray(), blockRows, blockCols);
    }

    /// <summary>Quantises float32 weights as DeepSeek's checkpoints were made (<see cref="Fp8BlockQuantization.Quantize"/>).</summary>
    public static Fp8BlockWeight Quantize(ReadOnlySpan<float> values, int rows, int cols,
        int blockRows = Fp8BlockQuantization.DefaultBlockSize, int blockCols = Fp8BlockQuantization.DefaultBlockSize)
    {
        var codes = new byte[checked(rows * cols)];
        var scales = new float[Fp8BlockQuantization.BlockCount(rows, blockRows) * Fp8BlockQuantization.BlockCount(cols, blockCols)];
        Fp8BlockQuantization.Quantize(values, rows, cols, codes, scales, blockRows, blockCols);
        return new Fp8BlockWeight(rows, cols, codes, null, null, scales, blockRows, blockCols);
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"The matrix has {Rows} rows.");
        if (destination.Length < Cols) throw new ArgumentException($"Destination holds {destination.Length} values; a row has {Cols}.", nameof(destination));
        int cols = Cols, scaleCols = Fp8BlockQuantization.BlockCount(cols, BlockCols);
        var codes = Codes.Slice(row * cols, cols);                       // [Cols]
        var scales = _scales.AsSpan(row / BlockRows * scaleCols, scaleCols);
        for (int b = 0, c = 0; c < cols; b++, c += BlockCols)
        {
            int width = Math.Min(BlockCols, cols - c);
            FloatFormats.E4M3ToFloat32(codes.Slice(c, width), destination.Slice(c, width), scales[b]);
        }
    }

    /// <summary>Rows widened per band: about 256 KiB of float32, at least one row.</summary>
    private int BandRows => Math.Max(1, (64 * 1024) / Math.Max(1, Cols));

    protected override void MultiplyRowsCore(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, int rowStart, int rowCount,
        bool asTransposed, Span<float> y, int ldy, bool accumulate)
    {
        if (m == 0 || rowCount == 0) return;
        if (!asTransposed)
        {
            // y[m, Cols] (+)= x[m, rowCount] · R sums over the rows: widen them all (a per-head block of kv_b_proj) and
            // multiply once.
            var rows = Band.Scratch(rowCount * Cols);   // this thread's
            for (int r = 0; r < rowCount; r++) ReadRow(rowStart + r, rows.AsSpan(r * Cols, Cols));
            MultiplyDequantizedRows(pool, m, x, ldx, rows.AsSpan(0, rowCount * Cols), rowCount, Cols, asTransposed: false, y, ldy, accumulate);
            return;
        }
        fixed (float* px = x) fixed (float* py = y)
            pool.For((rowCount + BandRows - 1) / BandRows, new Band(this, pool, m, px, x.Length, ldx, rowStart, rowCount, py, y.Length, ldy, accumulate));
    }

    // One band of output columns: widen W's rows [r0, r0 + band) and multiply; bands write disjoint columns of y.
    private readonly struct Band(Fp8BlockWeight _w, WorkerPool _pool, int _m, float* _x, int _xLength, int _ldx, int _rowStart, int _rowCount,
        float* _y, int _yLength, int _ldy, bool _accumulate) : IParallelJob
    {
        [ThreadStatic] private static float[]? t_scratch;

        public static float[] Scratch(int floats)
        {
            if (t_scratch is null || t_scratch.Length < floats) t_scratch = new float[floats];
            return t_scratch;
        }

        public void Execute(int index)
        {
            var w = _w;
            int cols = w.Cols, band = w.BandRows;
            int r0 = index * band, count = Math.Min(band, _rowCount - r0);
            var rows = Scratch(band * cols);
            for (int r = 0; r < count; r++) w.ReadRow(_rowStart + r0 + r, rows.AsSpan(r * cols, cols));
            var x = new ReadOnlySpan<float>(_x, _xLength);
            var y = new Span<float>(_y, _yLength)[r0..];
            MultiplyDequantizedRows(_pool, _m, x, _ldx, rows.AsSpan(0, count * cols), count, cols, asTransposed: true, y, _ldy, _accumulate);
        }
    }
}
