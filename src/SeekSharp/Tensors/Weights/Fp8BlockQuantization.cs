using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Tensors.Weights;

/// <summary>
/// DeepSeek-V3's FP8 weight format (docs/architecture.md §14): a [rows, cols] weight stored as E4M3 bytes plus one float32 per
/// blockRows × blockCols block, <c>weight_scale_inv</c>, of shape [ceil(rows / blockRows), ceil(cols / blockCols)],
/// row-major. Despite its name the scale is a multiplier: <c>W[r, c] = e4m3(Q[r, c]) · S[r / blockRows, c / blockCols]</c>.
/// Edge blocks (576 rows = 4½ blocks of 128) are partial and use their own scale like any other block.
/// </summary>
public static class Fp8BlockQuantization
{
    /// <summary>DeepSeek-V3's <c>weight_block_size</c>.</summary>
    public const int DefaultBlockSize = 128;

    /// <summary>Blocks along a dimension of <paramref name="length"/>: ceil(length / blockSize).</summary>
    public static int BlockCount(int length, int blockSize) => (int)(((long)length + blockSize - 1) / blockSize);

    /// <summary>
    /// Dequantises <paramref name="q"/> (E4M3, [rows, cols] row-major) into <paramref name="destination"/> (float32,
    /// same layout) with the block scales <paramref name="scaleInv"/> ([ceil(rows/blockRows), ceil(cols/blockCols)]).
    /// </summary>
    public static void Dequantize(ReadOnlySpan<byte> q, ReadOnlySpan<float> scaleInv, int rows, int cols, Span<float> destination,
        int blockRows = DefaultBlockSize, int blockCols = DefaultBlockSize)
    {
        int scaleCols = CheckShapes(q.Length, scaleInv.Length, rows, cols, destination.Length, blockRows, blockCols);
        for (int r = 0; r < rows; r++)
        {
            var scaleRow = scaleInv.Slice(r / blockRows * scaleCols, scaleCols); // [scaleCols]
            var qRow = q.Slice(r * cols, cols);                                  // [cols]
            var outRow = destination.Slice(r * cols, cols);                      // [cols]
            for (int blockCol = 0, c = 0; c < cols; blockCol++, c += blockCols)
            {
                int width = Math.Min(blockCols, cols - c);
                FloatFormats.E4M3ToFloat32(qRow.Slice(c, width), outRow.Slice(c, width), scaleRow[blockCol]);
            }
        }
    }

    /// <summary>
    /// Quantises a float32 weight the way DeepSeek's checkpoints were made: per block, <c>scale = amax / 448</c>
    /// (amax = largest |w| in the block, edge blocks included), <c>q = e4m3(w / scale)</c> rounded to nearest even.
    /// An all-zero block gets scale 1 (any scale dequantises zeros to zero; 1 avoids a division by zero).
    /// Non-finite weights are rejected: they would poison the whole block's scale.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> weight, int rows, int cols, Span<byte> q, Span<float> scaleInv,
        int blockRows = DefaultBlockSize, int blockCols = DefaultBlockSize)
    {
        int scaleCols = CheckShapes(q.Length, scaleInv.Length, rows, cols, weight.Length, blockRows, blockCols);
        for (int blockRow = 0; blockRow * blockRows < rows; blockRow++)
        {
            int r0 = blockRow * blockRows, height = Math.Min(blockRows, rows - r0);
            for (int blockCol = 0; blockCol < scaleCols; blockCol++)
            {
                int c0 = blockCol * blockCols, width = Math.Min(blockCols, cols - c0);
                float amax = BlockAbsMax(weight, cols, r0, height, c0, width);
                float scale = amax == 0f ? 1f : amax / FloatFormats.E4M3MaxValue;
                scaleInv[blockRow * scaleCols + blockCol] = scale;
                for (int r = r0; r < r0 + height; r++)
                    for (int c = c0; c < c0 + width; c++)
                        q[r * cols + c] = FloatFormats.Float32ToE4M3(weight[r * cols + c] / scale);
            }
        }
    }

    private static float BlockAbsMax(ReadOnlySpan<float> weight, int cols, int r0, int height, int c0, int width)
    {
        float amax = 0f;
        for (int r = r0; r < r0 + height; r++)
        {
            for (int c = c0; c < c0 + width; c++)
            {
                float w = weight[r * cols + c];
                if (!float.IsFinite(w))
                    throw new ArgumentException($"weight[{r}, {c}] is {w}; FP8 quantisation needs finite values", nameof(weight));
                amax = Math.Max(amax, Math.Abs(w));
            }
        }
        return amax;
    }

    // Validates every length against rows × cols and the block grid; returns the scale tensor's column count.
    private static int CheckShapes(int qLength, int scaleLength, int rows, int cols, int floatLength, int blockRows, int blockCols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCols, 1);
        long elements = (long)rows * cols;
        if (qLength != elements || floatLength != elements)
            throw new ArgumentException($"a [{rows}, {cols}] weight has {elements} elements, but the FP8 span has {qLength} and the float32 span {floatLength}");
        int scaleRows = BlockCount(rows, blockRows), scaleCols = BlockCount(cols, blockCols);
        if (scaleLength != (long)scaleRows * scaleCols)
            throw new ArgumentException($"a [{rows}, {cols}] weight in {blockRows}×{blockCols} blocks needs [{scaleRows}, {scaleCols}] = {(long)scaleRows * scaleCols} scales, not {scaleLength}");
        return scaleCols;
    }
}
