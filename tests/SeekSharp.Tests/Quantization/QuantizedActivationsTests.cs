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
        a.Prepare(1, cols);
        fixed (float* px = x) a.QuantizeRow(0, px, cols);
        int blocks = QuantFormat.BlocksPerRow(cols);
        var codes = new sbyte[blocks * 32];
        var scales = new float[blocks];
        var sums = new int[blocks];
        QuantizedActivations.QuantizeRowScalar(x, codes, scales, sums);
        Assert.Equal(codes, new ReadOnlySpan<sbyte>(a.RowCodes(0), blocks * 32).ToArray());
        Assert.Equal(scales, new ReadOnlySpan<float>(a.RowScales(0), blocks).ToArray());
        Assert.Equal(sums, new ReadOnlySpan<int>(a.RowSums(0), blocks).ToArray());
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
        a.Prepare(1, x.Length);
        fixed (float* px = x) a.QuantizeRow(0, px, x.Length);
        Assert.Equal(0f, a.Scales[0]);
        Assert.Equal(0f, a.Scales[1]);
        Assert.True(float.IsNaN(a.Scales[2]));
        Assert.True(float.IsNaN(a.Scales[3]));
        for (int i = 0; i < x.Length; i++) Assert.Equal(0, a.Codes[i]);
    }
}
