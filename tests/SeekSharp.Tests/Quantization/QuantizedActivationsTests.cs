using SeekSharp.Tensors.Quantization;
using Xunit;

namespace SeekSharp.Tests.Quantization;

public unsafe class QuantizedActivationsTests
{
    [Theory]
    [InlineData(32)]
    [InlineData(1024)]
    [InlineData(70)]
    [InlineData(5)]
    public void FastPathMatchesTheScalarRuleBitForBit(int cols)
    {
        var rng = new Random(cols);
        var x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * MathF.Pow(10, rng.Next(-3, 4));
        x[0] = 0.5f; x[Math.Min(1, cols - 1)] = -0.5f;   // ties at the top (±127) and exact halves
        for (int i = 2; i < cols; i += 7) x[i] = (i % 3 - 1) * 2.5f / 127f;  // codes landing on .5 boundaries
        var a = new QuantizedActivations();
        a.Prepare(1, cols, ActivationLayout.Rows, absCodes: true);
        fixed (float* px = x) a.QuantizeRow(0, px, cols);
        int blocks = QuantFormat.BlocksPerRow(cols);
        var codes = new sbyte[blocks * 32];
        var scales = new float[blocks];
        var sums = new int[blocks];
        QuantizedActivations.QuantizeRowScalar(x, codes, scales, sums);
        Assert.Equal(codes, new ReadOnlySpan<sbyte>(a.RowCodes(0), blocks * 32).ToArray());
        Assert.Equal(scales, new ReadOnlySpan<float>(a.RowScales(0), blocks).ToArray());
        Assert.Equal(sums, new ReadOnlySpan<int>(a.RowSums(0), blocks).ToArray());
        for (int i = 0; i < blocks * 32; i++) Assert.Equal(Math.Abs(codes[i]), (int)a.RowAbsCodes(0)[i]);
        for (int b = 0; b < blocks; b++)
        {
            int sum = 0, max = 0;
            for (int k = 0; k < 32; k++) { sum += codes[b * 32 + k]; max = Math.Max(max, Math.Abs(codes[b * 32 + k])); }
            Assert.Equal(sum, sums[b]);
            Assert.Equal(127, max);
            for (int k = 0; k < 32; k++)
            {
                float v = b * 32 + k < cols ? x[b * 32 + k] : 0;
                Assert.True(Math.Abs(codes[b * 32 + k] * scales[b] - v) <= scales[b] * 0.5001f, $"element {b * 32 + k}");
            }
        }
    }

    [Fact]
    public void SpecialBlocks()
    {
        var x = new float[4 * 32];
        x[32 + 3] = 1e-31f;                 // flushed: scale 0, codes 0
        x[64 + 9] = float.NaN;              // scale NaN
        x[96 + 31] = float.NegativeInfinity;
        var a = new QuantizedActivations();
        a.Prepare(1, x.Length, ActivationLayout.Rows, absCodes: false);
        fixed (float* px = x) a.QuantizeRow(0, px, x.Length);
        Assert.Equal(0f, a.RowScales(0)[0]);
        Assert.Equal(0f, a.RowScales(0)[1]);
        Assert.True(float.IsNaN(a.RowScales(0)[2]));
        Assert.True(float.IsNaN(a.RowScales(0)[3]));
        for (int i = 0; i < x.Length; i++) Assert.Equal(0, a.RowCodes(0)[i]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TilesHoldTheSameBlocksAsRows(bool absCodes)
    {
        int m = 6, cols = 80, blocks = 3;
        var x = TestUtil.RandomArray(m * cols, 9);
        var rows = new QuantizedActivations();
        var tiles = new QuantizedActivations();
        rows.Prepare(m, cols, ActivationLayout.Rows, absCodes);
        tiles.Prepare(m, cols, ActivationLayout.Tiles, absCodes);
        fixed (float* px = x)
            for (int i = 0; i < m; i++)
            {
                rows.QuantizeRow(i, px + i * cols, cols);
                tiles.QuantizeRow(i, px + i * cols, cols);
            }
        for (int i = 0; i < 8; i++)   // two tiles; rows 6 and 7 pad the second with zero blocks
            for (int b = 0; b < blocks; b++)
            {
                byte* record = tiles.Tile(i / 4) + b * tiles.TileBlockBytes;
                sbyte* codes = (sbyte*)record + i % 4 * 32;
                float scale = ((float*)(record + tiles.TileScaleOffset))[i % 4];
                int sum = ((int*)(record + tiles.TileSumOffset))[i % 4];
                for (int k = 0; k < 32; k++)
                {
                    Assert.Equal(i < m ? rows.RowCodes(i)[b * 32 + k] : 0, codes[k]);
                    if (absCodes) Assert.Equal(Math.Abs((int)codes[k]), (int)record[tiles.TileAbsOffset + i % 4 * 32 + k]);
                }
                Assert.Equal(i < m ? rows.RowScales(i)[b] : 0, scale);
                Assert.Equal(i < m ? rows.RowSums(i)[b] : 0, sum);
            }
    }
}
