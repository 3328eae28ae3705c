namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// Plain definitions of <see cref="QuantizedGemm.Multiply"/>, the oracles of the tests; never on a hot path.
/// </summary>
public static class QuantizedGemmReference
{
    /// <summary>
    /// y[i, j] (+)= Σ_p x[i, p]·W[j, p] with W dequantised (<see cref="QuantizedMatrix.Dequantize"/>) and the sum in
    /// double: what the quantised weights mean, with exact activations.
    /// </summary>
    public static void Multiply(int m, ReadOnlySpan<float> x, int ldx, QuantizedMatrix w, Span<float> y, int ldy, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        QuantizedGemm.Validate(m, x.Length, ldx, w.Cols, y.Length, ldy, w.Rows);
        var weights = new float[(long)w.Rows * w.Cols];
        w.Dequantize(weights);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < w.Rows; j++)
            {
                double sum = accumulate ? y[i * ldy + j] : 0;
                for (int p = 0; p < w.Cols; p++) sum += (double)x[i * ldx + p] * weights[(long)j * w.Cols + p];
                y[i * ldy + j] = (float)sum;
            }
    }

    /// <summary>
    /// The untransposed product with a block of rows, y[i, c] (+)= Σ_r x[i, r]·W[rowStart + r, c] (r &lt; rowCount,
    /// c &lt; Cols), with W dequantised and the sum in double: the definition of
    /// <see cref="QuantizedGemm.MultiplyRows"/> with <c>asTransposed: false</c>.
    /// </summary>
    public static void MultiplyRowsUntransposed(int m, ReadOnlySpan<float> x, int ldx, QuantizedMatrix w, int rowStart, int rowCount,
        Span<float> y, int ldy, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        QuantizedGemm.Validate(m, x.Length, ldx, rowCount, y.Length, ldy, w.Cols);
        var rows = new float[(long)rowCount * w.Cols];
        for (int r = 0; r < rowCount; r++) w.DequantizeRow(rowStart + r, rows.AsSpan(r * w.Cols, w.Cols));
        for (int i = 0; i < m; i++)
            for (int c = 0; c < w.Cols; c++)
            {
                double sum = accumulate ? y[i * ldy + c] : 0;
                for (int r = 0; r < rowCount; r++) sum += (double)x[i * ldx + r] * rows[(long)r * w.Cols + c];
                y[i * ldy + c] = (float)sum;
            }
    }

    /// <summary>
    /// What the fast kernels compute, step by step: x quantised per block by the scalar rule of
    /// <see cref="QuantizedActivations"/>, exact integer dot products per block, each weighted by the float32 product
    /// d_w·s_x, summed in double. The fast kernels differ from this only by float32 summation order.
    /// </summary>
    public static void MultiplyWithQuantizedActivations(int m, ReadOnlySpan<float> x, int ldx, QuantizedMatrix w, Span<float> y, int ldy, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        QuantizedGemm.Validate(m, x.Length, ldx, w.Cols, y.Length, ldy, w.Rows);
        IntegerModel(m, x, ldx, w, 0, w.Rows, y, ldy, accumulate);
    }

    // y[i, j] (+)= row rowStart + j of W against x row i, for j < rowCount (also the fallback without AVX2).
    internal static void IntegerModel(int m, ReadOnlySpan<float> x, int ldx, QuantizedMatrix w, int rowStart, int rowCount,
        Span<float> y, int ldy, bool accumulate)
    {
        int blocks = w.BlocksPerRow, bs = QuantFormat.BlockSize;
        var codes = new sbyte[blocks * bs];
        var scales = new float[blocks];
        var sums = new int[blocks];
        var weightCodes = new int[blocks * bs];
        var weightScales = new float[blocks];
        for (int i = 0; i < m; i++)
        {
            QuantizedActivations.QuantizeRowScalar(x.Slice(i * ldx, w.Cols), codes, scales, sums);
            for (int j = 0; j < rowCount; j++)
            {
                WeightCodes(w, rowStart + j, weightCodes, weightScales);
                double sum = accumulate ? y[i * ldy + j] : 0;
                for (int b = 0; b < blocks; b++)
                {
                    long dot = 0;
                    for (int p = 0; p < bs; p++) dot += (long)weightCodes[b * bs + p] * codes[b * bs + p];
                    sum += (double)(weightScales[b] * scales[b]) * dot;
                }
                y[i * ldy + j] = (float)sum;
            }
        }
    }

    // Row j of W as integer levels (q for Q8_0, c − 8 for Q4_0) and F16 scales, padding included.
    private static void WeightCodes(QuantizedMatrix w, int row, Span<int> levels, Span<float> scales)
    {
        var bytes = w.RawBytes.Slice(row * w.RowBytes, w.RowBytes);
        int blockBytes = w.Type.BlockBytes(), bs = QuantFormat.BlockSize;
        for (int b = 0; b < w.BlocksPerRow; b++)
        {
            var block = bytes.Slice(b * blockBytes, blockBytes);
            scales[b] = HalfScale.ToSingle((ushort)(block[0] | block[1] << 8));
            for (int p = 0; p < bs; p++)
                levels[b * bs + p] = w.Type == QuantType.Q8_0
                    ? (sbyte)block[2 + p]
                    : (p < bs / 2 ? block[2 + p] & 0xF : block[2 + p - bs / 2] >> 4) - 8;
        }
    }
}
