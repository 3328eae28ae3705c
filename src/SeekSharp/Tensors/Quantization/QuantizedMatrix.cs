using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// A weight matrix W [Rows = out, Cols = in] stored in a block format (<see cref="QuantType"/>): each row is cut into
/// ceil(Cols/32) blocks of 32 consecutive weights along the input dimension, rows one after another.
/// </summary>
/// <remarks>
/// <para>The bytes are exactly ggml's (llama.cpp's) for the same type whenever Cols is a multiple of 32, so a GGUF
/// tensor can be adopted with <see cref="FromRaw"/>. When Cols is not a multiple of 32 (ggml rejects that case) the
/// last block of each row is padded with zero weights; the padding takes part in no result.</para>
/// <para>Weights must be finite: a NaN or infinity would poison its block's scale, so <see cref="Quantize"/> rejects
/// them, as it rejects weights too large for an F16 scale (above ≈ 8.3e6 for Q8_0, ≈ 5.2e5 for Q4_0). Loaded bytes
/// are validated the same way (finite scales, no Q8_0 code −128), so kernels never meet a malformed block.</para>
/// <para>The bytes live in one pinned array (never moved by the GC), or in memory that another object owns (a
/// memory-mapped checkpoint, see <see cref="View"/>); either way kernels read them through a fixed address.</para>
/// </remarks>
public sealed unsafe class QuantizedMatrix
{
    private readonly byte* _data;
    private readonly long _byteSize;
    private readonly object? _owner;   // the pinned array, or what keeps viewed memory alive

    public QuantType Type { get; }
    /// <summary>Output dimension (rows of W).</summary>
    public int Rows { get; }
    /// <summary>Input dimension (columns of W), the dimension the blocks run along.</summary>
    public int Cols { get; }
    /// <summary>Blocks per row, ceil(Cols / 32).</summary>
    public int BlocksPerRow { get; }
    /// <summary>Bytes per row: BlocksPerRow × the block size of <see cref="Type"/>.</summary>
    public int RowBytes { get; }

    /// <summary>Bytes of storage: Rows × RowBytes.</summary>
    public long ByteSize => _byteSize;

    /// <summary>The stored blocks, row after row (the format of <see cref="FromRaw"/>).</summary>
    public ReadOnlySpan<byte> RawBytes => new(_data, checked((int)_byteSize));

    /// <summary>Whether the bytes are viewed in memory this matrix does not own (a mapped file).</summary>
    public bool IsView => _owner is not byte[];

    internal byte* Data => _data;
    internal byte* RowPointer(int row) => Data + (long)row * RowBytes;

    private QuantizedMatrix(QuantType type, int rows, int cols, byte* external = null, object? owner = null)
    {
        long size = ByteSizeOf(type, rows, cols);
        if (size > Array.MaxLength)
            throw new ArgumentException($"A {type} matrix [{rows}, {cols}] needs {size} bytes, more than one array can hold; split it.");
        (Type, Rows, Cols) = (type, rows, cols);
        BlocksPerRow = QuantFormat.BlocksPerRow(cols);
        RowBytes = BlocksPerRow * type.BlockBytes();
        _byteSize = size;
        if (external is null)
        {
            var bytes = GC.AllocateUninitializedArray<byte>((int)size, pinned: true);
            _owner = bytes;
            _data = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bytes));
        }
        else
        {
            _owner = owner;
            _data = external;
        }
    }

    /// <summary>Bytes a [rows, cols] matrix of <paramref name="type"/> takes.</summary>
    public static long ByteSizeOf(QuantType type, int rows, int cols)
    {
        CheckShape(rows, cols);
        return (long)rows * QuantFormat.BlocksPerRow(cols) * type.BlockBytes();
    }

    /// <summary>
    /// Quantises <paramref name="weights"/> (row-major [rows, cols], exactly rows·cols values) block by block; see
    /// <see cref="QuantType"/> for how each format picks its scale. Runs over <paramref name="pool"/> when given.
    /// </summary>
    /// <exception cref="ArgumentException">A weight is NaN or infinite, or too large for the format's F16 scale.</exception>
    public static QuantizedMatrix Quantize(QuantType type, ReadOnlySpan<float> weights, int rows, int cols, WorkerPool? pool = null)
    {
        CheckShape(rows, cols);
        if (weights.Length != (long)rows * cols)
            throw new ArgumentException($"{weights.Length} weights for a [{rows}, {cols}] matrix.", nameof(weights));
        var matrix = new QuantizedMatrix(type, rows, cols);
        fixed (float* w = weights)
        {
            var work = new QuantizeRows(matrix, w);
            if (pool is null) for (int r = 0; r < rows; r++) work.Execute(r);
            else pool.For(rows, in work);
        }
        return matrix;
    }

    private readonly struct QuantizeRows(QuantizedMatrix matrix, float* weights) : IParallelJob
    {
        public void Execute(int row)
        {
            int cols = matrix.Cols, blockBytes = matrix.Type.BlockBytes();
            var source = new ReadOnlySpan<float>(weights + (long)row * cols, cols);
            var destination = new Span<byte>(matrix.RowPointer(row), matrix.RowBytes);
            for (int b = 0; b < matrix.BlocksPerRow; b++)
            {
                int c0 = b * QuantFormat.BlockSize;
                var values = source.Slice(c0, Math.Min(QuantFormat.BlockSize, cols - c0));
                var block = destination.Slice(b * blockBytes, blockBytes);
                for (int i = 0; i < values.Length; i++)
                    if (!float.IsFinite(values[i]))
                        throw new ArgumentException($"Weight [{row}, {c0 + i}] is {values[i]}: only finite weights can be quantised.");
                bool ok = matrix.Type == QuantType.Q8_0 ? Q8_0Block.TryQuantize(values, block) : Q4_0Block.TryQuantize(values, block);
                if (!ok)
                    throw new ArgumentException($"Weights of row {row}, columns {c0}..{c0 + values.Length - 1} are too large for a {matrix.Type} block: its F16 scale would overflow.");
            }
        }
    }

    /// <summary>
    /// Adopts stored blocks (a copy of <paramref name="bytes"/>, which must be exactly <see cref="ByteSizeOf"/> long),
    /// e.g. from <see cref="RawBytes"/> or a GGUF tensor of the same type and shape.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong length, a non-finite scale, or a Q8_0 code of −128.</exception>
    public static QuantizedMatrix FromRaw(QuantType type, int rows, int cols, ReadOnlySpan<byte> bytes)
    {
        long size = ByteSizeOf(type, rows, cols);
        if (bytes.Length != size)
            throw new ArgumentException($"A {type} matrix [{rows}, {cols}] is {size} bytes, not {bytes.Length}.", nameof(bytes));
        Validate(type, cols, bytes);
        var matrix = new QuantizedMatrix(type, rows, cols);
        bytes.CopyTo(new Span<byte>(matrix._data, (int)size));
        return matrix;
    }

    /// <summary>
    /// Views stored blocks in place, without copying: <paramref name="data"/> (exactly <see cref="ByteSizeOf"/> bytes)
    /// must stay valid as long as the matrix is used; <paramref name="owner"/> is kept referenced for that (e.g. the
    /// memory-mapped checkpoint). The blocks are validated as by <see cref="FromRaw"/>.
    /// </summary>
    public static QuantizedMatrix View(QuantType type, int rows, int cols, byte* data, long byteCount, object owner)
    {
        long size = ByteSizeOf(type, rows, cols);
        if (byteCount != size)
            throw new ArgumentException($"A {type} matrix [{rows}, {cols}] is {size} bytes, not {byteCount}.", nameof(byteCount));
        var matrix = new QuantizedMatrix(type, rows, cols, data, owner);
        Validate(type, cols, matrix.RawBytes);
        return matrix;
    }

    private static void Validate(QuantType type, int cols, ReadOnlySpan<byte> bytes)
    {
        int blockBytes = type.BlockBytes(), blocksPerRow = QuantFormat.BlocksPerRow(cols);
        for (long offset = 0; offset < bytes.Length; offset += blockBytes)
        {
            var block = bytes.Slice((int)offset, blockBytes);
            string? problem = type == QuantType.Q8_0 ? Q8_0Block.Validate(block) : Q4_0Block.Validate(block);
            if (problem is not null)
            {
                long index = offset / blockBytes;
                throw new ArgumentException($"Block {index % blocksPerRow} of row {index / blocksPerRow} is invalid: {problem}.", nameof(bytes));
            }
        }
    }

    /// <summary>All weights as float32, row-major [Rows, Cols]: the reference meaning of the format.</summary>
    public void Dequantize(Span<float> destination)
    {
        if (destination.Length < (long)Rows * Cols)
            throw new ArgumentException($"Destination holds {destination.Length} values; [{Rows}, {Cols}] needs {(long)Rows * Cols}.", nameof(destination));
        for (int r = 0; r < Rows; r++) DequantizeRow(r, destination.Slice(r * Cols, Cols));
    }

    /// <summary>Row <paramref name="row"/> as float32 (Cols values), e.g. an embedding lookup.</summary>
    public void DequantizeRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"The matrix has {Rows} rows.");
        if (destination.Length < Cols)
            throw new ArgumentException($"Destination holds {destination.Length} values; a row has {Cols}.", nameof(destination));
        var source = new ReadOnlySpan<byte>(RowPointer(row), RowBytes);
        int blockBytes = Type.BlockBytes();
        for (int b = 0; b < BlocksPerRow; b++)
        {
            int c0 = b * QuantFormat.BlockSize;
            var block = source.Slice(b * blockBytes, blockBytes);
            var values = destination.Slice(c0, Math.Min(QuantFormat.BlockSize, Cols - c0));
            if (Type == QuantType.Q8_0) Q8_0Block.Dequantize(block, values);
            else Q4_0Block.Dequantize(block, values);
        }
    }

    private static void CheckShape(int rows, int cols)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(rows < 0 ? nameof(rows) : nameof(cols), "Matrix sizes must be non-negative.");
    }

    public override string ToString() => $"{Type} [{Rows}, {Cols}] ({ByteSize} bytes)";
}
