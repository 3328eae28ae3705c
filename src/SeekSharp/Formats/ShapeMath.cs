namespace SeekSharp.Formats;

/// <summary>
/// Shape arithmetic that cannot overflow: a header may claim any shape, and [2^40, 2^40] must become an error
/// message, not an <see cref="OverflowException"/> or a huge allocation.
/// </summary>
internal static class ShapeMath
{
    /// <summary>
    /// The product of the dimensions, or false when a dimension is negative or the product (or the product times
    /// <paramref name="elementSize"/>, the byte length) does not fit in a <see cref="long"/>. A rank-0 shape is one element.
    /// </summary>
    public static bool TryElementCount(ReadOnlySpan<long> shape, int elementSize, out long elementCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(elementSize, 1);
        elementCount = 0;
        Int128 count = 1;
        foreach (var dim in shape)
        {
            if (dim < 0) return false;
            count *= dim;
            // Checked at every step, so count stays below 2^63 and count × dim below 2^126: Int128 never wraps.
            if (count > long.MaxValue / elementSize) return false;
        }
        elementCount = (long)count;
        return true;
    }

    /// <summary>The element count of a shape already known to be valid; throws <see cref="ArgumentException"/> if it is not.</summary>
    public static long ElementCount(ReadOnlySpan<long> shape) =>
        TryElementCount(shape, 1, out var count)
            ? count
            : throw new ArgumentException($"shape {Format(shape)} has a negative dimension or more than 2^63 elements", nameof(shape));

    /// <summary>"[512, 64]", as in error messages and PyTorch.</summary>
    public static string Format(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
