using SeekSharp.Formats;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Tensors.Weights;
using Xunit;

namespace SeekSharp.Tests.Formats;

public class Fp8BlockQuantizationTests
{
    // 200×300 in 128×128 blocks: a [2, 3] scale grid whose last row and column of blocks are partial (72 rows,
    // 44 columns), like kv_a_proj's 576 rows (4½ blocks) in the real checkpoint.
    [Theory]
    [InlineData(200, 300, 128, 128)]
    [InlineData(100, 70, 64, 32)]
    [InlineData(576, 130, 128, 128)]
    [InlineData(1, 1, 128, 128)]
    public void QuantiseThenDequantise_StaysWithinHalfAnE4M3Step(int rows, int cols, int blockRows, int blockCols)
    {
        var weight = RandomWeight(rows, cols, seed: rows * 31 + cols);
        int scaleRows = Fp8BlockQuantization.BlockCount(rows, blockRows), scaleCols = Fp8BlockQuantization.BlockCount(cols, blockCols);
        var q = new byte[rows * cols];
        var scales = new float[scaleRows * scaleCols];
        Fp8BlockQuantization.Quantize(weight, rows, cols, q, scales, blockRows, blockCols);
        var restored = new float[rows * cols];
        Fp8BlockQuantization.Dequantize(q, scales, rows, cols, restored, blockRows, blockCols);

        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                float scale = scales[r / blockRows * scaleCols + c / blockCols];
                float w = weight[r * cols + c], back = restored[r * cols + c];
                // E4M3 keeps 3 mantissa bits: relative error ≤ 2^-4 for normal values; below 2^-6 (subnormal) the
                // step is 2^-9, so the absolute error is ≤ 2^-10 · scale. A little slack for the float32 division.
                double bound = Math.Max(Math.Abs(w) / 16, scale / 1024.0) * 1.0001;
                Assert.True(Math.Abs(w - back) <= bound, $"[{r}, {c}]: {w} came back as {back} (scale {scale})");
                Assert.Equal(FloatFormats.E4M3ToFloat32(q[r * cols + c]) * scale, back); // the formula of docs/architecture.md §14, exactly
            }
        }
    }

    [Fact]
    public void Quantize_ScaleIsBlockAbsMaxOver448_EdgeBlocksIncluded()
    {
        const int rows = 200, cols = 300;
        var weight = RandomWeight(rows, cols, seed: 5);
        var q = new byte[rows * cols];
        var scales = new float[2 * 3];
        Fp8BlockQuantization.Quantize(weight, rows, cols, q, scales);

        for (int blockRow = 0; blockRow < 2; blockRow++)
        {
            for (int blockCol = 0; blockCol < 3; blockCol++)
            {
                float amax = 0;
                for (int r = blockRow * 128; r < Math.Min(rows, blockRow * 128 + 128); r++)
                    for (int c = blockCol * 128; c < Math.Min(cols, blockCol * 128 + 128); c++)
                        amax = Math.Max(amax, Math.Abs(weight[r * cols + c]));
                Assert.Equal(amax / 448f, scales[blockRow * 3 + blockCol]);
            }
        }
        // The largest element of each block maps to ±448 exactly.
        Assert.Contains(q, b => (b & 0x7F) == 0x7E);
    }

    [Fact]
    public void Dequantize_AppliesEachBlocksOwnScale()
    {
        // 3×3 weight of 1.0 (0x38) in 2×2 blocks: scales [[1, 2], [3, 4]].
        var q = Enumerable.Repeat((byte)0x38, 9).ToArray();
        var scales = new[] { 1f, 2f, 3f, 4f };
        var w = new float[9];
        Fp8BlockQuantization.Dequantize(q, scales, 3, 3, w, blockRows: 2, blockCols: 2);
        Assert.Equal(new[] { 1f, 1f, 2f, 1f, 1f, 2f, 3f, 3f, 4f }, w);
    }

    [Fact]
    public void Quantize_ZeroBlockGetsScaleOne()
    {
        var q = new byte[4];
        var scales = new float[1];
        Fp8BlockQuantization.Quantize(new float[4], 2, 2, q, scales);
        Assert.Equal(1f, scales[0]);
        Assert.All(q, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Quantize_RejectsNonFiniteWeights()
    {
        var weight = new float[] { 1, 2, float.NaN, 4 };
        var error = Assert.Throws<ArgumentException>(() => Fp8BlockQuantization.Quantize(weight, 2, 2, new byte[4], new float[1]));
        Assert.Contains("[1, 0]", error.Message);
    }

    [Fact]
    public void Dequantize_RejectsWrongScaleCount()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            Fp8BlockQuantization.Dequantize(new byte[200 * 300], new float[4], 200, 300, new float[200 * 300]));
        Assert.Contains("[2, 3]", error.Message);
    }

    [Fact]
    public void Dequantize_RejectsWrongDestinationLength()
    {
        Assert.Throws<ArgumentException>(() => Fp8BlockQuantization.Dequantize(new byte[6], new float[1], 2, 3, new float[5]));
    }

    internal static float[] RandomWeight(int rows, int cols, int seed)
    {
        // Gaussian with a few outliers, so blocks have different scales and small values reach E4M3's subnormals.
        var random = new Random(seed);
        var weight = new float[rows * cols];
        for (int i = 0; i < weight.Length; i++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            weight[i] = (float)(gaussian * 0.02 * (random.Next(500) == 0 ? 20 : 1));
        }
        return weight;
    }
}
