namespace SeekSharp.Formats;

/// <summary>
/// Where one tensor lives: its header entry, resolved to an absolute position in its file.
/// </summary>
/// <param name="Name">The checkpoint name, e.g. "model.layers.3.mlp.experts.17.down_proj.weight".</param>
/// <param name="DType">The element type stored on disk.</param>
/// <param name="Shape">Dimensions, outermost first (row-major); empty for a scalar.</param>
/// <param name="FilePath">The safetensors file that holds the bytes.</param>
/// <param name="DataOffset">Absolute offset of the first byte in <paramref name="FilePath"/> (header already skipped).</param>
/// <param name="ByteLength">Bytes on disk: <see cref="ElementCount"/> × dtype size, checked when the header is read.</param>
public sealed record TensorInfo(string Name, TensorDType DType, long[] Shape, string FilePath, long DataOffset, long ByteLength)
{
    /// <summary>Product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount => ShapeMath.ElementCount(Shape);

    /// <summary>"name F32 [512, 64]", for messages and listings.</summary>
    public override string ToString() => $"{Name} {DType.ToHeaderString()} {ShapeMath.Format(Shape)}";
}
