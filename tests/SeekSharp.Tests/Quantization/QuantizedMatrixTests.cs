using System.Buffers.Binary;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using Xunit;

namespace SeekSharp.Tests.Quantization;

public class QuantizedMatrixTests
{
    private static float Scale(QuantizedMatrix w, int row, int block) =>
        (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(w.RawBytes[(row * w.RowBytes + block * w.Type.BlockBytes())..]));

    [Theory]
    [InlineData(QuantType.Q8_0, 34, 1.0625)]
    [InlineData(QuantType.Q4_0, 18, 0.5625)]
    public void FormatSizes(QuantType type, int blockBytes, double bytesPerWeight)
    {
        Assert.Equal(blockBytes, type.BlockBytes());
        Assert.Equal(bytesPerWeight, type.BytesPerWeight());
        var w = QuantizedMatrix.Quantize(type, new float[7 * 64], 7, 64);
        Assert.Equal(7L * 2 * blockBytes, w.ByteSize);
        Assert.Equal(w.ByteSize, w.RawBytes.Length);
        Assert.Equal(w.ByteSize, QuantizedMatrix.ByteSizeOf(type, 7, 64));
        Assert.Equal(2, w.BlocksPerRow);
    }

    [Theory]
    [InlineData(1, 32)]
    [InlineData(5, 96)]
    [InlineData(3, 1024)]
    [InlineData(4, 48)]  // a partial last block
    public void Q8_0ErrorIsAtMostHalfAStep(int rows, int cols)
    {
        var weights = TestUtil.RandomArray(rows * cols, 11, scale: 3f);
        var w = QuantizedMatrix.Quantize(QuantType.Q8_0, weights, rows, cols);
        var back = new float[rows * cols];
        w.Dequantize(back);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                float d = Scale(w, r, c / 32);
                float amax = 0;
                for (int k = c / 32 * 32; k < Math.Min(cols, c / 32 * 32 + 32); k++) amax = Math.Max(amax, Math.Abs(weights[r * cols + k]));
                Assert.True(d >= amax / 127 && d <= amax / 127 * (1 + 1.0 / 1024), $"scale {d} for amax {amax}");
                float error = Math.Abs(back[r * cols + c] - weights[r * cols + c]);
                Assert.True(error <= d / 2 * (1 + 1e-6), $"[{r}, {c}]: error {error} > d/2 = {d / 2}");
            }
    }

    [Theory]
    [InlineData(3, 96, 1f)]
    [InlineData(2, 80, 0.01f)]
    [InlineData(6, 1024, 100f)]
    public void Q4_0IsNeverWorseThanTheFixedRule(int rows, int cols, float scale)
    {
        var weights = TestUtil.RandomArray(rows * cols, 12, scale);
        var w = QuantizedMatrix.Quantize(QuantType.Q4_0, weights, rows, cols);
        var back = new float[rows * cols];
        w.Dequantize(back);
        for (int r = 0; r < rows; r++)
            for (int b = 0; b * 32 < cols; b++)
            {
                var block = weights.AsSpan(r * cols + b * 32, Math.Min(32, cols - b * 32));
                var decoded = back.AsSpan(r * cols + b * 32, block.Length);
                double sse = 0, ruleSse = FixedRuleSquaredError(block);
                for (int k = 0; k < block.Length; k++) sse += Math.Pow((double)decoded[k] - block[k], 2);
                Assert.True(sse <= ruleSse * (1 + 1e-9) + 1e-30, $"row {r} block {b}: {sse} > fixed rule {ruleSse}");
            }
    }

    // llama.cpp's scale d = m/−8 (m the element of largest magnitude), rounded to F16, levels rounded to nearest.
    private static double FixedRuleSquaredError(ReadOnlySpan<float> block)
    {
        float m = 0;
        foreach (float v in block) if (Math.Abs(v) > Math.Abs(m)) m = v;
        float d = (float)(Half)(m / -8f);
        double sse = 0;
        foreach (float v in block)
        {
            float level = d == 0 ? 0 : Math.Clamp(MathF.Round(v / d), -8, 7);
            sse += Math.Pow(v - (double)(d * level), 2);
        }
        return sse;
    }

    [Fact]
    public void Q4_0HasLowerErrorThanTheFixedRuleOnGaussianWeights()
    {
        var rng = new Random(3);
        int rows = 64, cols = 512;
        var weights = new float[rows * cols];
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var w = QuantizedMatrix.Quantize(QuantType.Q4_0, weights, rows, cols);
        var back = new float[weights.Length];
        w.Dequantize(back);
        double ours = 0, rule = 0;
        for (int i = 0; i < weights.Length; i++) ours += Math.Pow(back[i] - weights[i], 2);
        for (int i = 0; i < weights.Length; i += 32) rule += FixedRuleSquaredError(weights.AsSpan(i, 32));
        double ratio = Math.Sqrt(ours / rule);
        Assert.True(ratio < 0.95, $"RMS error ratio to the fixed rule {ratio:F3}");
    }

    [Theory]
    [InlineData(QuantType.Q8_0, 127)]
    [InlineData(QuantType.Q4_0, 8)]
    [InlineData(QuantType.Q4_0, 7)]
    [InlineData(QuantType.Q4_0, 3)]
    public void ValuesOnTheGridRoundTripExactly(QuantType type, int extreme)
    {
        var rng = new Random(4);
        int rows = 5, cols = 64;
        var weights = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < 2; b++)
            {
                float d = (float)(Half)(0.001f * (1 + r + 3 * b) * (rng.Next(2) == 0 ? 1 : -1)); // an F16 step
                int lo = type == QuantType.Q8_0 ? -127 : -extreme, hi = type == QuantType.Q8_0 ? 127 : Math.Min(extreme, 7);
                for (int k = 0; k < 32; k++) weights[r * cols + b * 32 + k] = d * rng.Next(lo, hi + 1);
                weights[r * cols + b * 32 + rng.Next(32)] = d * (type == QuantType.Q8_0 ? 127 : (extreme == 8 ? -8 : extreme)); // the block reaches the extreme level
            }
        var back = new float[weights.Length];
        QuantizedMatrix.Quantize(type, weights, rows, cols).Dequantize(back);
        Assert.Equal(weights, back);
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void RawBytesRoundTrip(QuantType type)
    {
        var weights = TestUtil.RandomArray(9 * 80, 13);
        var w = QuantizedMatrix.Quantize(type, weights, 9, 80);
        var copy = QuantizedMatrix.FromRaw(type, 9, 80, w.RawBytes);
        Assert.True(w.RawBytes.SequenceEqual(copy.RawBytes));
        Assert.Equal((type, 9, 80), (copy.Type, copy.Rows, copy.Cols));
        var a = new float[weights.Length];
        var b = new float[weights.Length];
        w.Dequantize(a);
        copy.Dequantize(b);
        Assert.Equal(a, b);
        var row = new float[80];
        copy.DequantizeRow(7, row);
        Assert.Equal(a.AsSpan(7 * 80, 80).ToArray(), row);
    }

    [Fact]
    public void BytesAreGgmlBlocks()
    {
        // Q8_0: f16 d then 32 int8, w = d·q.
        var q8 = new byte[34];
        BinaryPrimitives.WriteUInt16LittleEndian(q8, BitConverter.HalfToUInt16Bits((Half)0.5f));
        for (int i = 0; i < 32; i++) q8[2 + i] = (byte)(sbyte)(i - 16);
        var values = new float[32];
        QuantizedMatrix.FromRaw(QuantType.Q8_0, 1, 32, q8).DequantizeRow(0, values);
        for (int i = 0; i < 32; i++) Assert.Equal(0.5f * (i - 16), values[i]);
        // Q4_0: f16 d then 16 bytes; byte j = code j (low nibble) | code j+16 (high nibble); w = d·(code − 8).
        var q4 = new byte[18];
        BinaryPrimitives.WriteUInt16LittleEndian(q4, BitConverter.HalfToUInt16Bits((Half)(-0.25f)));
        for (int j = 0; j < 16; j++) q4[2 + j] = (byte)(j | (15 - j) << 4);
        QuantizedMatrix.FromRaw(QuantType.Q4_0, 1, 32, q4).DequantizeRow(0, values);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(-0.25f * (j - 8), values[j]);
            Assert.Equal(-0.25f * (15 - j - 8), values[j + 16]);
        }
        // And quantising those values gives those bytes back (both are on their grids).
        Assert.True(QuantizedMatrix.Quantize(QuantType.Q4_0, values, 1, 32).RawBytes.SequenceEqual(q4));
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void PartialLastBlockIsZeroPadded(QuantType type)
    {
        int rows = 3, cols = 40;
        var weights = TestUtil.RandomArray(rows * cols, 14);
        var w = QuantizedMatrix.Quantize(type, weights, rows, cols);
        Assert.Equal(2, w.BlocksPerRow);
        Assert.Equal(rows * 2 * type.BlockBytes(), w.ByteSize);
        var padded = new float[rows * 64];
        for (int r = 0; r < rows; r++) weights.AsSpan(r * cols, cols).CopyTo(padded.AsSpan(r * 64));
        var full = QuantizedMatrix.Quantize(type, padded, rows, 64);
        Assert.True(w.RawBytes.SequenceEqual(full.RawBytes), "a padded row quantises like the row with explicit zeros");
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void ZeroBlocksAndTinyValues(QuantType type)
    {
        var weights = new float[3 * 64];
        weights[64 + 5] = 1e-30f;       // scale rounds up to the smallest subnormal F16 (Q8_0) or stays non-zero (Q4_0)
        weights[128 + 40] = -3e-6f;     // a subnormal-F16 scale
        var w = QuantizedMatrix.Quantize(type, weights, 3, 64);
        var back = new float[weights.Length];
        w.Dequantize(back);
        for (int i = 0; i < 64; i++) Assert.Equal(0f, back[i]);
        Assert.True(Math.Abs(back[128 + 40] + 3e-6f) < 3e-6f * 0.1f, $"{back[128 + 40]}");
        for (int i = 0; i < weights.Length; i++)
            if (weights[i] == 0) Assert.Equal(0f, back[i]);
    }

    [Theory]
    [InlineData(QuantType.Q8_0, 8.0e6f, 8.4e6f)]
    [InlineData(QuantType.Q4_0, 5.0e5f, 5.3e5f)]
    public void HugeWeightsUpToTheF16RangeAreKeptAndBeyondAreRejected(QuantType type, float largest, float tooLarge)
    {
        var weights = TestUtil.RandomArray(64, 15);
        weights[3] = largest;
        var back = new float[64];
        QuantizedMatrix.Quantize(type, weights, 1, 64).Dequantize(back);
        Assert.True(Math.Abs(back[3] - largest) <= largest * 0.07f);
        weights[40] = -tooLarge;
        var e = Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(type, weights, 1, 64));
        Assert.Contains("row 0, columns 32..63", e.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteWeightsAreRejected(float bad)
    {
        var weights = new float[4 * 32];
        weights[2 * 32 + 7] = bad;
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
        {
            var e = Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(type, weights, 4, 32));
            Assert.Contains("[2, 7]", e.Message);
        }
    }

    [Fact]
    public void MalformedRawBytesAreRejected()
    {
        var good = QuantizedMatrix.Quantize(QuantType.Q8_0, TestUtil.RandomArray(2 * 64, 16), 2, 64).RawBytes.ToArray();
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromRaw(QuantType.Q8_0, 2, 64, good.AsSpan(1)));
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromRaw(QuantType.Q4_0, 2, 64, good));
        var nanScale = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(nanScale.AsSpan(34 * 3), 0x7E00);
        var e = Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromRaw(QuantType.Q8_0, 2, 64, nanScale));
        Assert.Contains("Block 1 of row 1", e.Message);
        var minus128 = (byte[])good.Clone();
        minus128[34 + 2 + 5] = 0x80;
        e = Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromRaw(QuantType.Q8_0, 2, 64, minus128));
        Assert.Contains("−128", e.Message);
        var q4 = QuantizedMatrix.Quantize(QuantType.Q4_0, TestUtil.RandomArray(64, 17), 1, 64).RawBytes.ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(q4.AsSpan(18), 0xFC00); // −∞
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromRaw(QuantType.Q4_0, 1, 64, q4));
    }

    [Fact]
    public void ArgumentsAreValidated()
    {
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(QuantType.Q8_0, new float[63], 2, 32));
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(QuantType.Q8_0, new float[65], 2, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedMatrix.Quantize(QuantType.Q8_0, [], -1, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedMatrix.Quantize((QuantType)7, new float[32], 1, 32));
        var w = QuantizedMatrix.Quantize(QuantType.Q4_0, new float[64], 2, 32);
        Assert.Throws<ArgumentException>(() => w.Dequantize(new float[63]));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.DequantizeRow(2, new float[32]));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.DequantizeRow(-1, new float[32]));
        Assert.Throws<ArgumentException>(() => w.DequantizeRow(0, new float[31]));
        var empty = QuantizedMatrix.Quantize(QuantType.Q8_0, [], 0, 32);
        Assert.Equal(0, empty.ByteSize);
    }

    [Fact]
    public void ParallelQuantisationGivesTheSameBytes()
    {
        var weights = TestUtil.RandomArray(37 * 96, 18);
        using var pool = new WorkerPool(2);
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
            Assert.True(QuantizedMatrix.Quantize(type, weights, 37, 96).RawBytes.SequenceEqual(QuantizedMatrix.Quantize(type, weights, 37, 96, pool).RawBytes));
    }
}
