namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// The block formats of a <see cref="QuantizedMatrix"/>. Both cut each row into blocks of
/// <see cref="QuantFormat.BlockSize"/> = 32 consecutive weights that share one IEEE binary16 scale <c>d</c>, and both
/// are byte-for-byte the blocks of ggml/llama.cpp (GGUF tensor types 8 and 2), so their tensors load without conversion.
/// </summary>
public enum QuantType
{
    /// <summary>
    /// 8.5 bits per weight: 34-byte blocks <c>{ f16 d; int8 q[32] }</c>, <c>w = d·q</c> with q in [−127, 127].
    /// The quantiser takes <c>d</c> = the smallest F16 ≥ amax/127, so every weight is within d/2 of its value.
    /// </summary>
    Q8_0,

    /// <summary>
    /// 4.5 bits per weight: 18-byte blocks <c>{ f16 d; u8 qs[16] }</c>, byte j holding code j in its low nibble and
    /// code j+16 in its high nibble; <c>w = d·(code − 8)</c>, so the levels are d·{−8, …, 7}. Our quantiser searches the
    /// scale for the least squared error per block (see <see cref="Q4_0Block"/>) instead of llama.cpp's fixed
    /// <c>d = max/−8</c>: same format, same kernels, ~6% lower RMS error.
    /// </summary>
    Q4_0,
}

/// <summary>Sizes of the block formats.</summary>
public static class QuantFormat
{
    /// <summary>Weights per block, along a row (the input dimension).</summary>
    public const int BlockSize = 32;

    /// <summary>Bytes of one block: 2 (the F16 scale) + the codes.</summary>
    public static int BlockBytes(this QuantType type) => type switch
    {
        QuantType.Q8_0 => Q8_0Block.Bytes,
        QuantType.Q4_0 => Q4_0Block.Bytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown quantisation type."),
    };

    /// <summary>Storage per weight when the row length is a multiple of 32: 1.0625 bytes (Q8_0), 0.5625 (Q4_0).</summary>
    public static double BytesPerWeight(this QuantType type) => type.BlockBytes() / (double)BlockSize;

    /// <summary>Blocks per row: ceil(cols / 32); the last block of a row is zero-padded when cols is not a multiple of 32.</summary>
    public static int BlocksPerRow(int cols) => (int)(((long)cols + BlockSize - 1) / BlockSize);
}
