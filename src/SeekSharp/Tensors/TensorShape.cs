using System.Runtime.CompilerServices;

namespace SeekSharp.Tensors;

/// <summary>A tensor shape of rank 1 to 4, stored inline so that views never allocate.</summary>
public readonly struct TensorShape : IEquatable<TensorShape>
{
    public const int MaxRank = 4;
    private readonly int _d0, _d1, _d2, _d3;

    public int Rank { get; }

    public TensorShape(int d0) : this(1, d0, 1, 1, 1) { }
    public TensorShape(int d0, int d1) : this(2, d0, d1, 1, 1) { }
    public TensorShape(int d0, int d1, int d2) : this(3, d0, d1, d2, 1) { }
    public TensorShape(int d0, int d1, int d2, int d3) : this(4, d0, d1, d2, d3) { }

    private TensorShape(int rank, int d0, int d1, int d2, int d3)
    {
        if (d0 < 0 || d1 < 0 || d2 < 0 || d3 < 0)
            throw new ArgumentOutOfRangeException(nameof(d0), "Tensor dimensions must be non-negative.");
        long size = (long)d0 * d1 * d2 * d3;
        if (size > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(d0), $"A tensor of {size} elements is larger than one buffer can hold.");
        Rank = rank;
        (_d0, _d1, _d2, _d3) = (d0, d1, d2, d3);
    }

    public static TensorShape FromDims(ReadOnlySpan<int> dims) => dims.Length switch
    {
        1 => new(dims[0]),
        2 => new(dims[0], dims[1]),
        3 => new(dims[0], dims[1], dims[2]),
        4 => new(dims[0], dims[1], dims[2], dims[3]),
        _ => throw new ArgumentOutOfRangeException(nameof(dims), $"Rank {dims.Length} is not supported (1 to {MaxRank}).")
    };

    public int this[int axis]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (uint)axis >= (uint)Rank ? throw new ArgumentOutOfRangeException(nameof(axis)) : axis switch { 0 => _d0, 1 => _d1, 2 => _d2, _ => _d3 };
    }

    /// <summary>Total number of elements.</summary>
    public int Size => _d0 * _d1 * _d2 * _d3;

    /// <summary>The last dimension: the length of one contiguous row.</summary>
    public int Cols => this[Rank - 1];

    /// <summary>The product of every dimension but the last: the number of rows when viewed as a matrix.</summary>
    public int Rows => Cols == 0 ? 0 : Size / Cols;

    /// <summary>The shape without its first dimension (the shape of one slice along axis 0).</summary>
    public TensorShape Inner => Rank switch
    {
        1 => new TensorShape(1),
        2 => new TensorShape(_d1),
        3 => new TensorShape(_d1, _d2),
        _ => new TensorShape(_d1, _d2, _d3)
    };

    public TensorShape WithFirst(int d0) => Rank switch
    {
        1 => new TensorShape(d0),
        2 => new TensorShape(d0, _d1),
        3 => new TensorShape(d0, _d1, _d2),
        _ => new TensorShape(d0, _d1, _d2, _d3)
    };

    public int[] ToArray()
    {
        var dims = new int[Rank];
        for (int i = 0; i < Rank; i++) dims[i] = this[i];
        return dims;
    }

    public bool Equals(TensorShape other) =>
        Rank == other.Rank && _d0 == other._d0 && _d1 == other._d1 && _d2 == other._d2 && _d3 == other._d3;

    public override bool Equals(object? obj) => obj is TensorShape s && Equals(s);
    public override int GetHashCode() => HashCode.Combine(Rank, _d0, _d1, _d2, _d3);
    public static bool operator ==(TensorShape a, TensorShape b) => a.Equals(b);
    public static bool operator !=(TensorShape a, TensorShape b) => !a.Equals(b);
    public override string ToString() => "[" + string.Join(", ", ToArray()) + "]";
}
