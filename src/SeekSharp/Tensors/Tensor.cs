using System.Runtime.CompilerServices;

namespace SeekSharp.Tensors;

/// <summary>
/// A float32 tensor: a row-major shape over a range of a buffer. A view, never an owner: copying the struct
/// copies the view, slicing allocates nothing. Buffers come from a <see cref="TensorArena"/> or from a
/// model's parameter store.
/// </summary>
public readonly struct Tensor
{
    public readonly float[] Buffer;
    public readonly int Offset;
    public readonly TensorShape Shape;

    public Tensor(float[] buffer, int offset, TensorShape shape)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if ((uint)offset > (uint)buffer.Length || shape.Size > buffer.Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"A view of {shape} at {offset} does not fit a buffer of {buffer.Length}.");
        Buffer = buffer;
        Offset = offset;
        Shape = shape;
    }

    public Tensor(float[] buffer, TensorShape shape) : this(buffer, 0, shape) { }

    /// <summary>A new zeroed tensor that owns a fresh array (tests, setup; not for hot paths).</summary>
    public static Tensor Zeros(TensorShape shape) => new(new float[shape.Size], shape);
    public static Tensor Zeros(int d0) => Zeros(new TensorShape(d0));
    public static Tensor Zeros(int d0, int d1) => Zeros(new TensorShape(d0, d1));
    public static Tensor Zeros(int d0, int d1, int d2) => Zeros(new TensorShape(d0, d1, d2));

    public bool IsEmpty => Buffer is null;
    public int Size => Shape.Size;
    public int Rows => Shape.Rows;
    public int Cols => Shape.Cols;

    public Span<float> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Buffer.AsSpan(Offset, Shape.Size);
    }

    /// <summary>Row <paramref name="r"/> of the matrix view [Rows, Cols].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<float> Row(int r)
    {
        int cols = Shape.Cols;
        if ((uint)r >= (uint)Shape.Rows) throw new ArgumentOutOfRangeException(nameof(r));
        return Buffer.AsSpan(Offset + r * cols, cols);
    }

    /// <summary>The sub-tensor at index <paramref name="i"/> of the first axis.</summary>
    public Tensor this[int i]
    {
        get
        {
            if ((uint)i >= (uint)Shape[0]) throw new ArgumentOutOfRangeException(nameof(i));
            var inner = Shape.Inner;
            return new Tensor(Buffer, Offset + i * inner.Size, inner);
        }
    }

    /// <summary>Rows [start, start+count) along the first axis.</summary>
    public Tensor Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Shape[0]) throw new ArgumentOutOfRangeException(nameof(start));
        int inner = Shape.Rank == 1 ? 1 : Shape.Inner.Size;
        return new Tensor(Buffer, Offset + start * inner, Shape.WithFirst(count));
    }

    public Tensor Reshape(TensorShape shape)
    {
        if (shape.Size != Shape.Size) throw new ArgumentException($"Cannot reshape {Shape} to {shape}.");
        return new Tensor(Buffer, Offset, shape);
    }

    public Tensor Reshape(int d0, int d1) => Reshape(new TensorShape(d0, d1));
    public Tensor Reshape(int d0, int d1, int d2) => Reshape(new TensorShape(d0, d1, d2));

    /// <summary>This 2-D tensor as a strided matrix view (rows × cols, leading dimension cols).</summary>
    public MatrixView Matrix => new(Buffer, Offset, Rows, Cols, Cols);

    public void Clear() => Span.Clear();
    public void CopyTo(Tensor destination)
    {
        if (destination.Size != Size) throw new ArgumentException($"Cannot copy {Shape} into {destination.Shape}.");
        Span.CopyTo(destination.Span);
    }

    public float[] ToArray() => Span.ToArray();
    public override string ToString() => $"Tensor{Shape}";
}
