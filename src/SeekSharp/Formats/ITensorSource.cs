namespace SeekSharp.Formats;

/// <summary>
/// Named tensors that a model loader reads from: one safetensors file or a whole checkpoint folder. Opening reads
/// headers only; tensor bytes stay in the memory-mapped files until asked for.
/// </summary>
/// <remarks>
/// Spans returned by <see cref="GetBytes(string)"/> point into the memory map: they are valid until the source is
/// disposed and must not be used after that (using one then is undefined behaviour, not an exception). Concurrent reads
/// from several threads are safe; disposing while another thread reads is not.
/// </remarks>
public interface ITensorSource : IDisposable
{
    /// <summary>The file or folder this source was opened from, as used in error messages.</summary>
    string Location { get; }

    /// <summary>
    /// Every tensor by name. Enumeration follows the layout on disk (file by file, by data offset), so that a loader
    /// that reads in this order reads each file front to back.
    /// </summary>
    IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> (string to string); merged over all files of a sharded checkpoint.</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The entry for <paramref name="name"/>; <see cref="MissingTensorException"/> naming it and this source if absent.</summary>
    TensorInfo Get(string name);

    /// <summary>
    /// The raw bytes of a tensor, zero-copy from the memory map. A span holds at most 2^31 − 1 bytes, so a larger
    /// tensor (none in DeepSeek-V3: the biggest, the BF16 embedding, is 1.85 GB) throws a <see cref="CheckpointException"/>
    /// that points to <see cref="GetBytes(string, long, int)"/>.
    /// </summary>
    ReadOnlySpan<byte> GetBytes(string name);

    /// <summary>Bytes [<paramref name="byteOffset"/>, +<paramref name="byteCount"/>) of a tensor: the chunked form for any size.</summary>
    ReadOnlySpan<byte> GetBytes(string name, long byteOffset, int byteCount);

    /// <summary>
    /// The raw bytes as <see cref="ReadOnlyMemory{T}"/> over the memory map, for a module that keeps a weight without
    /// copying it (a BF16 matrix handed to the GEMM as <c>MemoryMarshal.Cast&lt;byte, ushort&gt;(memory.Span)</c>).
    /// Same size limit as <see cref="GetBytes(string)"/>, and the same lifetime: valid until this source is disposed.
    /// Files written by <see cref="SafetensorsWriter"/> or Hugging Face align each tensor to its element size.
    /// </summary>
    ReadOnlyMemory<byte> GetMemory(string name);

    /// <summary>
    /// The whole tensor as float32, converted from F32, F64, F16, BF16 or F8_E4M3 (an FP8 value as stored, without its
    /// block scale: use <see cref="ReadWeightFloat32"/> for weights). <paramref name="destination"/> must hold exactly
    /// <see cref="TensorInfo.ElementCount"/> values.
    /// </summary>
    void ReadFloat32(string name, Span<float> destination);

    /// <summary>
    /// Elements [<paramref name="firstElement"/>, +destination.Length) in row-major order, as float32: a few rows of an
    /// embedding, a tensor-parallel slice, or a tensor too large for one span.
    /// </summary>
    void ReadFloat32(string name, long firstElement, Span<float> destination);

    /// <summary>
    /// A weight as float32: like <see cref="ReadFloat32(string, Span{float})"/>, except that an F8_E4M3 weight
    /// <c>X.weight</c> is dequantised with its companion <c>X.weight_scale_inv</c>:
    /// <c>W[r, c] = e4m3(Q[r, c]) · S[r / blockRows, c / blockCols]</c> (architecture.md §14). The scale tensor must have shape
    /// [ceil(rows / blockRows), ceil(cols / blockCols)]; DeepSeek-V3 uses 128×128 blocks
    /// (<c>quantization_config.weight_block_size</c> in config.json).
    /// </summary>
    void ReadWeightFloat32(string name, Span<float> destination, int blockRows = 128, int blockCols = 128);
}
