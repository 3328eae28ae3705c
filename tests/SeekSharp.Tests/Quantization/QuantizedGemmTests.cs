using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using Xunit;

namespace SeekSharp.Tests.Quantization;

public class QuantizedGemmTests
{
    private static readonly WorkerPool Pool = new(2);

    public static IEnumerable<object[]> Shapes()
    {
        int[][] shapes = [[1, 1, 32], [1, 37, 64], [2, 5, 96], [3, 33, 128], [4, 64, 1024], [5, 17, 160], [16, 70, 256],
            [130, 9, 64], [1, 300, 512], [7, 4, 48], [3, 11, 40], [64, 33, 100], [1, 3, 1],
            [72, 20, 1024]];   // the last quantises its activations over the pool
        foreach (var s in shapes)
            foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
                yield return [type, s[0], s[1], s[2]];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReferences(QuantType type, int m, int rows, int cols)
    {
        int ldx = cols + 3, ldy = rows + 2;
        var w = QuantizedMatrix.Quantize(type, TestUtil.RandomArray(rows * cols, 21), rows, cols);
        var x = TestUtil.RandomArray(m * ldx, 22);
        foreach (bool accumulate in new[] { false, true })
        {
            var y = TestUtil.RandomArray(m * ldy, 23);
            var exact = (float[])y.Clone();
            var model = (float[])y.Clone();
            QuantizedGemm.Multiply(Pool, m, x, ldx, w, y, ldy, accumulate);
            QuantizedGemm.Reference(m, x, ldx, w, exact, ldy, accumulate);
            QuantizedGemmReference.MultiplyWithQuantizedActivations(m, x, ldx, w, model, ldy, accumulate);
            string what = $"{type} m={m} [{rows}x{cols}] acc={accumulate}";
            // Same arithmetic as the kernel up to float summation order.
            TestUtil.AssertClose(y, model, 2e-6, what + " vs integer model");
            // Against exact activations: int8 activations cost ~0.3% of the output scale (see docs/quantization.md).
            TestUtil.AssertClose(y, exact, 1.5e-2, what + " vs dequantised reference");
            // The padding between rows of y is left alone.
            for (int i = 0; i < m; i++)
                for (int j = rows; j < ldy && i * ldy + j < y.Length; j++)
                    Assert.Equal(model[i * ldy + j], y[i * ldy + j]);
        }
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void ResultDoesNotDependOnTheThreadCount(QuantType type)
    {
        var w = QuantizedMatrix.Quantize(type, TestUtil.RandomArray(301 * 320, 24), 301, 320);
        using var one = new WorkerPool(1);
        foreach (int m in new[] { 1, 3, 16, 130 })
        {
            var x = TestUtil.RandomArray(m * 320, 25);
            var y1 = new float[m * 301];
            var y2 = new float[m * 301];
            QuantizedGemm.Multiply(one, m, x, 320, w, y1, 301);
            QuantizedGemm.Multiply(Pool, m, x, 320, w, y2, 301);
            Assert.Equal(y1, y2);
        }
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void ABlockOfRowsIsTheSameAsThoseRowsOfTheWholeProduct(QuantType type)
    {
        int rows = 90, cols = 96, m = 3;
        var w = QuantizedMatrix.Quantize(type, TestUtil.RandomArray(rows * cols, 26), rows, cols);
        var x = TestUtil.RandomArray(m * cols, 27);
        var whole = new float[m * rows];
        QuantizedGemm.Multiply(Pool, m, x, cols, w, whole, rows);
        var part = new float[m * 41];
        QuantizedGemm.MultiplyRows(Pool, m, x, cols, w, 37, 41, asTransposed: true, part, 41);
        for (int i = 0; i < m; i++)
            Assert.Equal(whole.AsSpan(i * rows + 37, 41).ToArray(), part.AsSpan(i * 41, 41).ToArray());
    }

    [Theory]
    [InlineData(QuantType.Q8_0, 1, 16, 512)]
    [InlineData(QuantType.Q4_0, 1, 16, 512)]
    [InlineData(QuantType.Q8_0, 5, 7, 80)]
    [InlineData(QuantType.Q4_0, 3, 33, 200)]
    [InlineData(QuantType.Q8_0, 130, 3, 96)]
    public void UntransposedRowsMatchTheReference(QuantType type, int m, int rowCount, int cols)
    {
        int rows = rowCount + 10, rowStart = 6, ldx = rowCount + 1, ldy = cols + 5;
        var w = QuantizedMatrix.Quantize(type, TestUtil.RandomArray(rows * cols, 33), rows, cols);
        var x = TestUtil.RandomArray(m * ldx, 34);
        foreach (bool accumulate in new[] { false, true })
        {
            var y = TestUtil.RandomArray(m * ldy, 35);
            var expected = (float[])y.Clone();
            QuantizedGemm.MultiplyRows(Pool, m, x, ldx, w, rowStart, rowCount, asTransposed: false, y, ldy, accumulate);
            QuantizedGemmReference.MultiplyRowsUntransposed(m, x, ldx, w, rowStart, rowCount, expected, ldy, accumulate);
            // x stays float here: only float rounding separates the two.
            TestUtil.AssertClose(y, expected, 2e-6, $"{type} m={m} rows={rowCount} cols={cols} acc={accumulate}");
            for (int i = 0; i < m; i++)
                for (int c = cols; c < ldy && i * ldy + c < y.Length; c++) Assert.Equal(expected[i * ldy + c], y[i * ldy + c]);
        }
        using var one = new WorkerPool(1);
        var y1 = new float[m * ldy];
        var y2 = new float[m * ldy];
        QuantizedGemm.MultiplyRows(one, m, x, ldx, w, rowStart, rowCount, false, y1, ldy);
        QuantizedGemm.MultiplyRows(Pool, m, x, ldx, w, rowStart, rowCount, false, y2, ldy);
        Assert.Equal(y1, y2);
    }

    [Fact]
    public void SpecialActivations()
    {
        int rows = 8, cols = 96;
        var w = QuantizedMatrix.Quantize(QuantType.Q8_0, TestUtil.RandomArray(rows * cols, 28), rows, cols);
        var x = new float[3 * cols];
        x[cols + 40] = 1e-35f;                  // below the flush threshold: the block counts as zero
        x[2 * cols + 70] = float.NaN;           // poisons every output of its row
        var y = TestUtil.RandomArray(3 * rows, 29);
        QuantizedGemm.Multiply(Pool, 3, x, cols, w, y, rows);
        for (int j = 0; j < rows; j++)
        {
            Assert.Equal(0f, y[j]);
            Assert.Equal(0f, y[rows + j]);
            Assert.True(float.IsNaN(y[2 * rows + j]));
        }
        x[2 * cols + 70] = float.PositiveInfinity;
        QuantizedGemm.Multiply(Pool, 3, x, cols, w, y, rows);
        Assert.True(float.IsNaN(y[2 * rows]));
    }

    [Fact]
    public void EmptyProducts()
    {
        var w = QuantizedMatrix.Quantize(QuantType.Q8_0, [], 4, 0);
        var y = new float[8];
        Array.Fill(y, 5f);
        QuantizedGemm.Multiply(Pool, 2, [], 0, w, y, 4, accumulate: true);
        Assert.All(y, v => Assert.Equal(5f, v));
        QuantizedGemm.Multiply(Pool, 2, [], 0, w, y, 4);
        Assert.All(y, v => Assert.Equal(0f, v));
        QuantizedGemm.Multiply(Pool, 0, [], 32, QuantizedMatrix.Quantize(QuantType.Q4_0, new float[64], 2, 32), [], 2);
    }

    [Fact]
    public void ArgumentsAreValidated()
    {
        var w = QuantizedMatrix.Quantize(QuantType.Q8_0, new float[4 * 64], 4, 64);
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(Pool, 2, new float[127], 64, w, new float[8], 4));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(Pool, 2, new float[128], 63, w, new float[8], 4));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(Pool, 2, new float[128], 64, w, new float[7], 4));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(Pool, 2, new float[128], 64, w, new float[8], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.Multiply(Pool, -1, new float[128], 64, w, new float[8], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.MultiplyRows(Pool, 1, new float[64], 64, w, 3, 2, true, new float[2], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.MultiplyRows(Pool, 1, new float[64], 64, w, -1, 2, true, new float[2], 2));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.MultiplyRows(Pool, 2, new float[3], 2, w, 1, 2, false, new float[128], 64));   // x [2, 2] needs 4
        Assert.Throws<ArgumentException>(() => QuantizedGemm.MultiplyRows(Pool, 2, new float[4], 2, w, 1, 2, false, new float[127], 64));  // y [2, 64] needs 128
        Assert.Throws<ArgumentNullException>(() => QuantizedGemm.Multiply(Pool, 1, new float[64], 64, null!, new float[4], 4));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Reference(2, new float[127], 64, w, new float[8], 4));
    }

    [Fact]
    public void AWarmCallAllocatesNothing()
    {
        // The promise holds for the AVX2 kernels; the scalar fallback (DOTNET_EnableAVX2=0) allocates its buffers.
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported || !System.Runtime.Intrinsics.X86.Fma.IsSupported) return;
        var w8 = QuantizedMatrix.Quantize(QuantType.Q8_0, TestUtil.RandomArray(256 * 512, 30), 256, 512);
        var w4 = QuantizedMatrix.Quantize(QuantType.Q4_0, TestUtil.RandomArray(256 * 512, 31), 256, 512);
        var x = TestUtil.RandomArray(64 * 512, 32);
        var y = new float[64 * 256];
        var wide = new float[64 * 512];
        int[] ms = [1, 2, 5, 64];
        void Calls(WorkerPool pool)
        {
            foreach (int m in ms)
            {
                QuantizedGemm.Multiply(pool, m, x, 512, w8, y, 256);
                QuantizedGemm.Multiply(pool, m, x, 512, w4, y, 256, accumulate: true);
                QuantizedGemm.MultiplyRows(pool, m, x, 512, w4, 0, 256, asTransposed: false, wide, 512);
            }
        }
        // Warm this thread's per-thread buffers for every kernel: alone, it runs every work item itself (with two threads
        // it may not, and a busy machine can then hand it a first item inside the measured window).
        using (var solo = new WorkerPool(1)) Calls(solo);
        Calls(Pool);
        // This thread's allocations: other test classes run concurrently. The workers' part allocates nothing by
        // construction (fixed fields of a reused job).
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Calls(Pool);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{allocated} bytes allocated by 80 warm calls");
    }
}
