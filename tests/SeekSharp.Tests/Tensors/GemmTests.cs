using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using Xunit;

namespace SeekSharp.Tests.Tensors;

public class GemmTests
{
    private static readonly WorkerPool Pool = new(2);

    public static IEnumerable<object[]> Shapes()
    {
        int[][] sizes = [[1, 1, 1], [1, 37, 19], [3, 40, 300], [4, 17, 8], [5, 33, 65], [6, 16, 256], [7, 31, 257],
            [13, 50, 70], [64, 64, 64], [130, 70, 513], [121, 200, 33], [300, 17, 9]];
        foreach (var s in sizes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    yield return [s[0], s[1], s[2], ta, tb];
    }

    /// <summary>
    /// The register tiles this machine runs, by name (a <see cref="GemmPath"/>; the tests take strings because the enum
    /// is internal): 256-bit always (forced on an AVX-512 host), 512-bit where it can.
    /// </summary>
    public static IEnumerable<string> Paths() =>
        Gemm.Vector512Available ? [nameof(GemmPath.Vector256), nameof(GemmPath.Vector512)] : [nameof(GemmPath.Vector256)];

    private static GemmPath Path(string name) => Enum.Parse<GemmPath>(name);

    /// <summary>
    /// Shapes for the register tiles (6×16 and 12×32): edges that are no multiple of either tile in m, n and k (k also
    /// past one KC block and off the 8-wide packing steps), exact tiles, m-blocks split over the threads both ways
    /// (m ≥ 2·threads·MC packs A per block), and a B too large to pack whole (taken in two n-blocks).
    /// </summary>
    public static IEnumerable<object[]> TileShapes()
    {
        int[][] sizes = [[5, 16, 8], [6, 16, 16], [12, 32, 256], [13, 33, 257], [11, 31, 7], [25, 65, 300], [24, 64, 513],
            [37, 97, 130], [97, 45, 21], [250, 129, 35], [493, 47, 29], [731, 33, 17], [6, 1850, 2100]];
        foreach (var path in Paths())
            foreach (var s in sizes)
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                        yield return [path, s[0], s[1], s[2], ta, tb];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BlockedGemmMatchesReference(int m, int n, int k, bool transA, bool transB) =>
        CheckAgainstReference(null, m, n, k, transA, transB);

    [Theory]
    [MemberData(nameof(TileShapes))]
    public void EachRegisterTileMatchesReference(string path, int m, int n, int k, bool transA, bool transB) =>
        CheckAgainstReference(Path(path), m, n, k, transA, transB);

    // Padded leading dimensions, and both overwriting and accumulating into C; path null = the public entry point.
    private static void CheckAgainstReference(GemmPath? path, int m, int n, int k, bool transA, bool transB)
    {
        int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2;
        var a = TestUtil.RandomArray((transA ? k : m) * lda, 1);
        var b = TestUtil.RandomArray((transB ? n : k) * ldb, 2);
        foreach (bool accumulate in new[] { false, true })
        {
            var c = TestUtil.RandomArray(m * ldc, 3);
            var expected = (float[])c.Clone();
            if (path is { } p) Gemm.Multiply(p, Pool, m, n, k, a, lda, transA, b, ldb, transB, c, ldc, accumulate);
            else Gemm.Multiply(Pool, m, n, k, a, lda, transA, b, ldb, transB, c, ldc, accumulate);
            GemmReference.Multiply(m, n, k, a, lda, transA, b, ldb, transB, expected, ldc, accumulate);
            TestUtil.AssertClose(c, expected, 1e-5, $"gemm {path} {m}x{n}x{k} tA={transA} tB={transB} acc={accumulate}");
        }
    }

    public static IEnumerable<object[]> HalfCases()
    {
        object[][] cases = [[ElementType.BF16, 1, 70, 300, true], [ElementType.BF16, 9, 70, 300, true], [ElementType.F16, 2, 33, 129, true],
            [ElementType.F16, 20, 33, 129, false], [ElementType.BF16, 20, 40, 64, false], [ElementType.F16, 29, 75, 270, true]];
        foreach (var path in Paths())
            foreach (var c in cases)
                yield return [path, .. c];
    }

    [Theory]
    [MemberData(nameof(HalfCases))]
    public void HalfWeightsMatchWidenedReference(string path, ElementType type, int m, int n, int k, bool transB)
    {
        var a = TestUtil.RandomArray(m * k, 5);
        var bf = TestUtil.RandomArray(n * k, 6);
        var bh = new ushort[bf.Length];
        HalfConversion.FromSingle(type, bf, bh);
        var widened = new float[bh.Length];
        HalfConversion.ToSingle(type, bh, widened);
        var c = new float[m * n];
        var expected = new float[m * n];
        int ldb = transB ? k : n;
        Gemm.Multiply(Path(path), Pool, m, n, k, a, k, false, bh, type, ldb, transB, c, n);
        GemmReference.Multiply(m, n, k, a, k, false, widened, ldb, transB, expected, n, false);
        TestUtil.AssertClose(c, expected, 1e-5, $"{type} gemm {path}");
    }

    public static IEnumerable<object[]> PathCases() => Paths().Select(p => new object[] { p });

    [Theory]
    [MemberData(nameof(PathCases))]
    public void ResultDoesNotDependOnThreadCount(string name)
    {
        var path = Path(name);
        foreach (var (m, n, k) in new[] { (97, 300, 700), (611, 70, 300) })
        {
            var a = TestUtil.RandomArray(m * k, 7);
            var b = TestUtil.RandomArray(n * k, 8);
            var c1 = new float[m * n];
            var c2 = new float[m * n];
            var c3 = new float[m * n];
            using var one = new WorkerPool(1);
            using var three = new WorkerPool(3);
            Gemm.Multiply(path, one, m, n, k, a, k, false, b, k, true, c1, n);
            Gemm.Multiply(path, Pool, m, n, k, a, k, false, b, k, true, c2, n);
            Gemm.Multiply(path, three, m, n, k, a, k, false, b, k, true, c3, n);
            Assert.Equal(c1, c2);
            Assert.Equal(c1, c3);
        }
    }

    [Fact]
    public void BadLeadingDimensionOrShortBufferIsRejected()
    {
        var a = new float[10];
        var c = new float[100];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Pool, 4, 4, 4, a, 4, false, new float[16], 4, false, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Pool, 2, 2, 4, new float[8], 3, false, new float[8], 4, true, c, 2));
    }

    [Fact]
    public void HalfConversionsAreExact()
    {
        ushort[] f16 = [0x0000, 0x8000, 0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x3555];
        var wide = new float[f16.Length];
        HalfConversion.ToSingle(ElementType.F16, f16, wide);
        for (int i = 0; i < f16.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf(f16[i]);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(wide[i]));
            else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(wide[i]));
        }
        // 8-wide path too: all 65536 codes
        var all = new ushort[65536];
        for (int i = 0; i < all.Length; i++) all[i] = (ushort)i;
        var outF16 = new float[all.Length];
        var outBf16 = new float[all.Length];
        HalfConversion.ToSingle(ElementType.F16, all, outF16);
        HalfConversion.ToSingle(ElementType.BF16, all, outBf16);
        for (int i = 0; i < all.Length; i++)
        {
            float e = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            Assert.True(float.IsNaN(e) ? float.IsNaN(outF16[i]) : BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(outF16[i]), $"f16 {i:X4}");
            Assert.Equal(i << 16, BitConverter.SingleToInt32Bits(outBf16[i]));
        }
        Assert.Equal((ushort)0x3F80, HalfConversion.SingleToBf16(1f));
        Assert.Equal((ushort)0x3F80, HalfConversion.SingleToBf16(BitConverter.Int32BitsToSingle(0x3F808000))); // tie → even
        Assert.Equal((ushort)0x3F82, HalfConversion.SingleToBf16(BitConverter.Int32BitsToSingle(0x3F818000))); // tie → even (up)
    }
}
