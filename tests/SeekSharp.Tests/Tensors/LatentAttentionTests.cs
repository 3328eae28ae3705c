using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using Xunit;

namespace SeekSharp.Tests.Tensors;

/// <summary>
/// The chunked latent-attention kernel (absorbed MLA for one query) against its plain definition, on both vector
/// widths, for head counts, dimensions and key counts that leave every kind of remainder; and its two invariances:
/// the result does not depend on the number of threads nor on cached rows past the visible ones.
/// </summary>
public sealed class LatentAttentionTests
{
    private static Tensor Random(Random rng, int rows, int cols, float spread)
    {
        var t = Tensor.Zeros(rows, cols);
        for (int i = 0; i < t.Size; i++) t.Span[i] = (float)(rng.NextDouble() * 2 - 1) * spread;
        return t;
    }

    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 16, 256, 64, 4096 },   // inference-800m at a 4K context: 32 chunks
        { 8, 64, 16, 300 },      // the default model: 3 chunks, the last one short
        { 4, 32, 8, 129 },       // one key past a chunk
        { 5, 40, 12, 7 },        // a head, columns and keys past every tile
        { 1, 16, 4, 1 },         // one head, one key
        { 17, 72, 8, 131 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheDefinition(int heads, int latentDim, int ropeDim, int visible)
    {
        var rng = new Random(heads * 1000 + visible);
        var q = Random(rng, heads, latentDim, 1f);
        var qr = Random(rng, heads, ropeDim, 1f);
        var c = Random(rng, visible + 3, latentDim, 1f);   // rows past `visible` are not attended
        var kr = Random(rng, visible + 3, ropeDim, 1f);
        float scale = 1f / MathF.Sqrt(latentDim / 2f);      // scores spread over a few units: a peaked softmax
        var expected = Tensor.Zeros(heads, latentDim);
        LatentAttention.Reference(q, qr, c, kr, visible, scale, expected);
        using var pool = new WorkerPool(2);
        foreach (bool wide in LatentAttention.Vector512Available ? new[] { false, true } : [false])
        {
            var got = Tensor.Zeros(heads, latentDim);
            var scratch = Tensor.Zeros(LatentAttention.ScratchSize(heads, latentDim, visible));
            LatentAttention.AttendWith(pool, q, qr, c, kr, visible, scale, got, scratch, wide);
            for (int i = 0; i < got.Size; i++)
                Assert.True(Math.Abs(got.Span[i] - expected.Span[i]) <= 2e-5f + 2e-5f * Math.Abs(expected.Span[i]),
                    $"{(wide ? 512 : 256)}-bit, element {i}: {got.Span[i]} against {expected.Span[i]}");
        }
    }

    [Fact]
    public void TheResultDoesNotDependOnThreadsNorOnRowsPastTheVisibleOnes()
    {
        var rng = new Random(5);
        int heads = 8, dc = 64, dr = 16, visible = 700;
        var q = Random(rng, heads, dc, 1f);
        var qr = Random(rng, heads, dr, 1f);
        var c = Random(rng, 1000, dc, 1f);
        var kr = Random(rng, 1000, dr, 1f);
        var scratch = Tensor.Zeros(LatentAttention.ScratchSize(heads, dc, 1000));
        float[] Run(int threads, int rows)
        {
            using var pool = new WorkerPool(threads);
            var o = Tensor.Zeros(heads, dc);
            LatentAttention.Attend(pool, q, qr, c.Slice(0, rows), kr.Slice(0, rows), visible, 0.3f, o, scratch);
            return o.Span.ToArray();
        }
        var one = Run(1, visible);
        Assert.Equal(one, Run(2, visible));
        Assert.Equal(one, Run(2, 1000));   // a verification chunk sees more cached rows than the query attends
    }

    [Fact]
    public void LargeScoresStayFinite()
    {
        // Scores in the thousands: each chunk subtracts its own maximum, and the merge rescales by e^(m_j − M).
        var rng = new Random(9);
        int heads = 4, dc = 32, dr = 8, visible = 400;
        var q = Random(rng, heads, dc, 30f);
        var qr = Random(rng, heads, dr, 30f);
        var c = Random(rng, visible, dc, 30f);
        var kr = Random(rng, visible, dr, 30f);
        var expected = Tensor.Zeros(heads, dc);
        LatentAttention.Reference(q, qr, c, kr, visible, 1f, expected);
        using var pool = new WorkerPool(2);
        var got = Tensor.Zeros(heads, dc);
        LatentAttention.Attend(pool, q, qr, c, kr, visible, 1f, got, Tensor.Zeros(LatentAttention.ScratchSize(heads, dc, visible)));
        for (int i = 0; i < got.Size; i++)
        {
            Assert.True(float.IsFinite(got.Span[i]));
            Assert.True(Math.Abs(got.Span[i] - expected.Span[i]) <= 1e-3f * (1 + Math.Abs(expected.Span[i])), $"element {i}: {got.Span[i]} against {expected.Span[i]}");
        }
    }
}
