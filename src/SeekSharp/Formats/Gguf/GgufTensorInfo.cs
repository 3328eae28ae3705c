namespace SeekSharp.Formats.Gguf;

/// <summary>
/// One tensor of a GGUF file. <paramref name="Dims"/> lists ggml's ne, fastest-varying first (ne[0] is the row length),
/// the reverse of a row-major shape. <paramref name="Offset"/> is relative to the start of the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, GgufTensorType Type, long[] Dims, long Offset)
{
    /// <summary>Product of the dims.</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>Bytes the data takes.</summary>
    public long ByteSize => Type.ByteSize(ElementCount);

    /// <summary>"name Q8_0 {64, 128}", ggml order, for messages.</summary>
    public override string ToString() => $"{Name} {Type} {{{string.Join(", ", Dims)}}}";
}
