using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Tensors.Weights;
using Xunit;

namespace SeekSharp.Tests.Tensors;

/// <summary>Every storage format's kernel against the plain product of its dequantised values.</summary>
public class WeightMatrixTests
{
    private static readonly WorkerPool Pool = new(2);

    public static TheoryData<WeightFormat, int, int, int> Cases()
    {
        var data = new TheoryData<WeightFormat, int, int, int>();
        foreach (var f in Enum.GetValues<WeightFormat>())
            foreach (var (n, rows, cols) in new[] { (1, 67, 96), (5, 300, 200), (17, 130, 256) })
                data.Add(f, n, rows, cols);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MultiplyMatchesTheReferenceOfTheStoredValues(WeightFormat format, int n, int rows, int cols)
    {
        var values = TestUtil.RandomArray(rows * cols, seed: rows + cols, scale: 0.1f);
        var w = WeightMatrix.FromFloat32(format, values, rows, cols);
        Assert.Equal(format, w.Format);
        var x = TestUtil.RandomArray(n * cols, seed: 7);
        var y = new float[n * rows];
        var expected = new float[n * rows];
        w.Multiply(Pool, n, x, cols, y, rows);
        w.MultiplyReference(n, x, cols, expected, rows);
        // Q8_0/Q4_0 also quantise the activations to int8 (docs/quantization.md): their tolerance is that error.
        double tolerance = format is WeightFormat.Q8_0 or WeightFormat.Q4_0 ? 2e-2 : 1e-5;
        TestUtil.AssertClose(y, expected, tolerance, $"{format} n={n}");
    }

    [Theory]
    [InlineData(WeightFormat.F32)]
    [InlineData(WeightFormat.BF16)]
    [InlineData(WeightFormat.Fp8E4M3)]
    [InlineData(WeightFormat.Q8_0)]
    public void RowBlocksMultiplyBothWays(WeightFormat format)
    {
        int rows = 256, cols = 160, m = 3, r0 = 100, count = 40;
        var w = WeightMatrix.FromFloat32(format, TestUtil.RandomArray(rows * cols, seed: 3, scale: 0.1f), rows, cols);
        var dense = new float[rows * cols];
        w.Dequantize(dense);
        var block = dense.AsSpan(r0 * cols, count * cols).ToArray();   // [count, cols]
        double tolerance = format is WeightFormat.Q8_0 ? 2e-2 : 1e-5;

        var x = TestUtil.RandomArray(m * cols, seed: 4);
        var y = new float[m * count];
        var expected = new float[m * count];
        w.MultiplyRows(Pool, m, x, cols, r0, count, asTransposed: true, y, count);
        GemmReference.Multiply(m, count, cols, x, cols, false, block, cols, true, expected, count, false);
        TestUtil.AssertClose(y, expected, tolerance, $"{format} x·Rᵀ");

        var x2 = TestUtil.RandomArray(m * count, seed: 5);
        var y2 = new float[m * cols];
        var expected2 = new float[m * cols];
        w.MultiplyRows(Pool, m, x2, count, r0, count, asTransposed: false, y2, cols);
        GemmReference.Multiply(m, cols, count, x2, count, false, block, cols, false, expected2, cols, false);
        TestUtil.AssertClose(y2, expected2, 1e-5, $"{format} x·R");
    }

    [Fact]
    public void Fp8ComputesWithExactlyTheDequantisedValues()
    {
        int rows = 300, cols = 260;   // partial 128×128 blocks on both edges
        var values = TestUtil.RandomArray(rows * cols, seed: 11, scale: 0.05f);
        var w = Fp8BlockWeight.Quantize(values, rows, cols);
        Assert.Equal((long)rows * cols + 3 * 3 * sizeof(float), w.ByteSize);
        var dense = new float[rows * cols];
        w.Dequantize(dense);
        var reference = new float[rows * cols];
        Fp8BlockQuantization.Dequantize(w.Codes, w.Scales, rows, cols, reference);
        Assert.Equal(reference, dense);
        foreach (int n in new[] { 1, 4, 33 })
        {
            var x = TestUtil.RandomArray(n * cols, seed: n);
            var y = new float[n * rows];
            var expected = new float[n * rows];
            w.Multiply(Pool, n, x, cols, y, rows);
            Gemm.Multiply(Pool, n, rows, cols, x, cols, false, dense, cols, true, expected, rows);
            TestUtil.AssertClose(y, expected, 1e-6, $"FP8 vs float32 GEMM of its values, n={n}");
        }
    }

    [Fact]
    public void A16BitViewReadsTheBytesWhereTheyLie()
    {
        var values = TestUtil.RandomArray(12, seed: 1);
        var half = new ushort[12];
        HalfConversion.FromSingle(ElementType.BF16, values, half);
        var owner = new object();
        unsafe
        {
            fixed (ushort* p = half)
            {
                var view = DenseWeight.View(ElementType.BF16, 3, 4, p, owner);
                Assert.True(view.IsView);
                var row = new float[4];
                view.ReadRow(2, row);
                half[8] = HalfConversion.SingleToBf16(5f);
                view.ReadRow(2, row);
                Assert.Equal(5f, row[0]);
            }
        }
    }
}
