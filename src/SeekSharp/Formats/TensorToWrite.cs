using System.Runtime.InteropServices;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Formats;

/// <summary>Fills elements [<paramref name="firstElement"/>, +chunk.Length) of a tensor, row-major, as float32.</summary>
public delegate void Float32ChunkFiller(long firstElement, Span<float> chunk);

/// <summary>Fills bytes [<paramref name="firstByte"/>, +chunk.Length) of a tensor exactly as stored on disk.</summary>
public delegate void ByteChunkFiller(long firstByte, Span<byte> chunk);

/// <summary>
/// One tensor for <see cref="SafetensorsWriter"/>: its name, stored dtype and shape, and where its data comes from.
/// The data is pulled while the file is written, chunk by chunk, so a writer never holds a whole model in memory:
/// <list type="bullet">
/// <item>float32 values (<see cref="FromFloat32(string, TensorDType, long[], ReadOnlyMemory{float})"/>), converted on
/// the way to F32, BF16 (round to nearest even), F16, F64 or F8_E4M3 (saturating; no block scale: quantise with
/// <see cref="Fp8BlockQuantization.Quantize"/> and write the bytes and the scales as two tensors);</item>
/// <item>raw bytes in the stored form, for any dtype (<see cref="FromBytes(string, TensorDType, long[], ReadOnlyMemory{byte})"/>);</item>
/// <item>a callback for either, called in order with consecutive chunks (at most 65,536 float32 values, or
/// 524,288 raw bytes), for data that is produced on the fly or does not fit in one array;</item>
/// <item>a tensor of an open <see cref="ITensorSource"/>, copied byte for byte (<see cref="CopyOf"/>).</item>
/// </list>
/// The same data may be passed under two names (DeepSeek's MTP layer stores copies of the embedding and head).
/// </summary>
public sealed class TensorToWrite
{
    private readonly long[] _shape;
    private readonly ReadOnlyMemory<float> _floats;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly Float32ChunkFiller? _floatFiller;
    private readonly ByteChunkFiller? _byteFiller;
    private readonly bool _isFloat32Source;

    private TensorToWrite(string name, TensorDType dtype, long[] shape, bool isFloat32Source,
        ReadOnlyMemory<float> floats = default, ReadOnlyMemory<byte> bytes = default,
        Float32ChunkFiller? floatFiller = null, ByteChunkFiller? byteFiller = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (name == SafetensorsHeader.MetadataKey)
            throw new ArgumentException($"'{name}' is reserved for the header's metadata and cannot name a tensor", nameof(name));
        if (isFloat32Source && !dtype.IsFloatingPoint())
            throw new ArgumentException($"tensor '{name}': float32 data cannot be stored as {dtype.ToHeaderString()}; pass raw bytes instead", nameof(dtype));
        if (!ShapeMath.TryElementCount(shape, dtype.SizeInBytes(), out long elements))
            throw new ArgumentException($"tensor '{name}': shape {ShapeMath.Format(shape)} has a negative dimension or too many bytes", nameof(shape));
        Name = name;
        DType = dtype;
        _shape = (long[])shape.Clone();
        ElementCount = elements;
        ByteLength = elements * dtype.SizeInBytes();
        _isFloat32Source = isFloat32Source;
        _floats = floats;
        _bytes = bytes;
        _floatFiller = floatFiller;
        _byteFiller = byteFiller;
    }

    /// <summary>The name in the header.</summary>
    public string Name { get; }

    /// <summary>The dtype stored on disk.</summary>
    public TensorDType DType { get; }

    /// <summary>Dimensions, outermost first.</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>Product of the shape.</summary>
    public long ElementCount { get; }

    /// <summary>Bytes on disk.</summary>
    public long ByteLength { get; }

    /// <summary>Float32 values, converted to <paramref name="dtype"/> (a float type) as they are written.</summary>
    public static TensorToWrite FromFloat32(string name, TensorDType dtype, long[] shape, ReadOnlyMemory<float> data)
    {
        var tensor = new TensorToWrite(name, dtype, shape, isFloat32Source: true, floats: data);
        if (data.Length != tensor.ElementCount)
            throw new ArgumentException($"tensor '{name}': shape {ShapeMath.Format(shape)} has {tensor.ElementCount} elements but the data has {data.Length}", nameof(data));
        return tensor;
    }

    /// <summary>Float32 values produced chunk by chunk by <paramref name="fill"/>, converted to <paramref name="dtype"/>.</summary>
    public static TensorToWrite FromFloat32(string name, TensorDType dtype, long[] shape, Float32ChunkFiller fill)
    {
        ArgumentNullException.ThrowIfNull(fill);
        return new TensorToWrite(name, dtype, shape, isFloat32Source: true, floatFiller: fill);
    }

    /// <summary>Bytes already in <paramref name="dtype"/>'s little-endian stored form.</summary>
    public static TensorToWrite FromBytes(string name, TensorDType dtype, long[] shape, ReadOnlyMemory<byte> data)
    {
        var tensor = new TensorToWrite(name, dtype, shape, isFloat32Source: false, bytes: data);
        if (data.Length != tensor.ByteLength)
            throw new ArgumentException($"tensor '{name}': {dtype.ToHeaderString()} {ShapeMath.Format(shape)} takes {tensor.ByteLength} bytes but the data has {data.Length}", nameof(data));
        return tensor;
    }

    /// <summary>Stored-form bytes produced chunk by chunk by <paramref name="fill"/>.</summary>
    public static TensorToWrite FromBytes(string name, TensorDType dtype, long[] shape, ByteChunkFiller fill)
    {
        ArgumentNullException.ThrowIfNull(fill);
        return new TensorToWrite(name, dtype, shape, isFloat32Source: false, byteFiller: fill);
    }

    /// <summary>
    /// A byte-for-byte copy of tensor <paramref name="name"/> of <paramref name="source"/>, under
    /// <paramref name="newName"/> if given (re-sharding, renaming, or dropping tensors from a checkpoint).
    /// <paramref name="source"/> must stay open until the write is done.
    /// </summary>
    public static TensorToWrite CopyOf(ITensorSource source, string name, string? newName = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var info = source.Get(name);
        return FromBytes(newName ?? name, info.DType, info.Shape,
            (firstByte, chunk) => source.GetBytes(name, firstByte, chunk.Length).CopyTo(chunk));
    }

    /// <summary>Streams the stored bytes to <paramref name="stream"/>, using the caller's scratch buffers.</summary>
    internal void WriteData(Stream stream, WriteBuffers buffers, CancellationToken cancellationToken)
    {
        if (!_isFloat32Source)
            WriteBytes(stream, buffers.Bytes, cancellationToken);
        else
            WriteConverted(stream, buffers, cancellationToken);
    }

    private void WriteBytes(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        for (long done = 0; done < ByteLength;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = (int)Math.Min(buffer.Length, ByteLength - done);
            if (_byteFiller is null)
            {
                stream.Write(_bytes.Span.Slice((int)done, count));
            }
            else
            {
                _byteFiller(done, buffer.AsSpan(0, count));
                stream.Write(buffer, 0, count);
            }
            done += count;
        }
    }

    private void WriteConverted(Stream stream, WriteBuffers buffers, CancellationToken cancellationToken)
    {
        int size = DType.SizeInBytes();
        for (long done = 0; done < ElementCount;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = (int)Math.Min(buffers.Floats.Length, ElementCount - done);
            ReadOnlySpan<float> values;
            if (_floatFiller is null)
            {
                values = _floats.Span.Slice((int)done, count);
            }
            else
            {
                _floatFiller(done, buffers.Floats.AsSpan(0, count));
                values = buffers.Floats.AsSpan(0, count);
            }
            if (DType == TensorDType.F32)
            {
                stream.Write(MemoryMarshal.AsBytes(values)); // already the stored form: no copy
            }
            else
            {
                var bytes = buffers.Bytes.AsSpan(0, count * size);
                DTypeConversions.FromFloat32(DType, values, bytes);
                stream.Write(bytes);
            }
            done += count;
        }
    }

    public override string ToString() => $"{Name} {DType.ToHeaderString()} {ShapeMath.Format(_shape)}";

    /// <summary>Scratch space for one write, shared by all its tensors: 64 Ki floats and their widest (F64) encoding.</summary>
    internal sealed class WriteBuffers
    {
        public const int ChunkElements = 1 << 16;
        public readonly float[] Floats = new float[ChunkElements];
        public readonly byte[] Bytes = new byte[ChunkElements * sizeof(double)];
    }
}
