namespace SeekSharp.Formats.Gguf;

/// <summary>
/// A tensor for <see cref="GgufWriter"/>: its name, type, ggml dims (fastest-varying first) and a callback that writes
/// exactly its bytes to the stream when its turn comes, so that only one tensor need be in memory at a time.
/// </summary>
public sealed record GgufTensorToWrite(string Name, GgufTensorType Type, long[] Dims, Action<Stream> WriteData)
{
    public long ByteSize => Type.ByteSize(Dims.Aggregate(1L, (a, d) => a * d));
}
