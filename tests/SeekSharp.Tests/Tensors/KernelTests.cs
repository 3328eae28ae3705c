using SeekSharp.Model;
using SeekSharp.Tensors.Kernels;
using Xunit;

namespace SeekSharp.Tests.Tensors;

public class KernelTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(1000)]
    public void RmsNormMatchesReference(int d)
    {
        var x = TestUtil.RandomArray(d, 1, 3f);
        var w = TestUtil.RandomArray(d, 2);
        var y = new float[d];
        var r = new float[d];
        RmsNorm.Forward(x, w, 1e-6f, y);
        RmsNorm.Reference(x, w, 1e-6f, r);
        TestUtil.AssertClose(y, r, 1e-6, "rmsnorm");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(13)]
    [InlineData(300)]
    [InlineData(600)]
    public void SiluMulMatchesReferenceIncludingInPlace(int n)
    {
        var g = TestUtil.RandomArray(n, 3, 6f);
        var u = TestUtil.RandomArray(n, 4);
        var expected = new float[n];
        Activations.SiluMulReference(g, u, expected);
        var y = new float[n];
        Activations.SiluMul(g, u, y);
        TestUtil.AssertClose(y, expected, 1e-6, "silu");
        var inPlace = (float[])g.Clone();
        Activations.SiluMul(inPlace, u, inPlace);
        TestUtil.AssertClose(inPlace, expected, 1e-6, "silu in place over gate");
        var inPlaceUp = (float[])u.Clone();
        Activations.SiluMul(g, inPlaceUp, inPlaceUp);
        TestUtil.AssertClose(inPlaceUp, expected, 1e-6, "silu in place over up");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(300)]
    public void BackwardKernelsMatchTheirReferences(int n)
    {
        var g = TestUtil.RandomArray(n, 11, 5f);
        var u = TestUtil.RandomArray(n, 12);
        var dh = TestUtil.RandomArray(n, 13);
        float[] dg = new float[n], du = new float[n], rg = new float[n], ru = new float[n];
        Activations.SiluMulBackward(g, u, dh, dg, du);
        Activations.SiluMulBackwardReference(g, u, dh, rg, ru);
        TestUtil.AssertClose(dg, rg, 1e-5, "dgate");
        TestUtil.AssertClose(du, ru, 1e-5, "dup");

        var x = TestUtil.RandomArray(n, 14, 2f);
        var w = TestUtil.RandomArray(n, 15);
        float[] y = new float[n], dx = new float[n], dw = new float[n], rdx = new float[n], rdw = new float[n];
        float rstd = RmsNorm.Forward(x, w, 1e-6f, y);
        RmsNorm.Backward(dh, x, w, rstd, dx, dw);
        RmsNorm.BackwardReference(dh, x, w, 1e-6f, rdx, rdw);
        TestUtil.AssertClose(dx, rdx, 1e-5, "rmsnorm dx");
        TestUtil.AssertClose(dw, rdw, 1e-5, "rmsnorm dw");
        float lse = Softmax.ForwardWithLogSumExp(x, y);
        Assert.Equal(Softmax.LogSumExp(x), lse, 4);
    }

    [Fact]
    public void SoftmaxIsStableForHugeLogits()
    {
        float[] x = [1000f, 1001f, 999f, float.NegativeInfinity];
        var y = new float[4];
        var r = new float[4];
        Softmax.Forward(x, y);
        Softmax.Reference(x, r);
        TestUtil.AssertClose(y, r, 1e-6, "softmax");
        Assert.Equal(0f, y[3]);
        Assert.Equal(1.0, y.Sum(), 5);
        var z = TestUtil.RandomArray(777, 5, 30f);
        var a = new float[777];
        var b = new float[777];
        Softmax.Forward(z, a);
        Softmax.Reference(z, b);
        TestUtil.AssertClose(a, b, 1e-5, "softmax random");
    }

    [Fact]
    public void TopKMatchesReferenceWithTiesAndNaN()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(1, 300), k = rng.Next(0, n + 1);
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = rng.Next(0, 5) == 0 ? float.NaN : rng.Next(-20, 20) / 4f;
            var a = new int[k];
            var b = new int[k];
            TopK.Select(v, k, a);
            TopK.Reference(v, k, b);
            Assert.Equal(b, a);
        }
    }

    [Fact]
    public void YarnFrequenciesAndSoftmaxScaleMatchTheSpec()
    {
        var v3 = new Rope(Presets.Get("deepseek-v3"));
        Assert.Equal((10.0, 23.0), Rope.CorrectionRange(32, 1, 64, 10000, 4096));
        (int j, float expected)[] reference = [(0, 1f), (1, 0.7498942f), (10, 0.05623413f), (11, 0.03900693f), (12, 0.02687936f),
            (22, 1.778279e-4f), (23, 3.333804e-5f), (31, 3.333804e-6f)];
        foreach (var (j, expected) in reference)
            Assert.True(Math.Abs(v3.Frequencies[j] - expected) <= 2e-6 * expected, $"θ'_{j} = {v3.Frequencies[j]}, expected {expected} (docs/architecture.md §5)");
        Assert.Equal(0.13523378, v3.SoftmaxScale, 6);
        Assert.Equal(0.11472139, new Rope(Presets.Get("deepseek-v2-lite")).SoftmaxScale, 6);
        Assert.Equal(1f, v3.AttentionFactor);
        var plain = new Rope(Presets.Get("deepseek-v3") with { RopeScaling = null });
        Assert.Equal(0.07216878, plain.SoftmaxScale, 6);
    }

    [Fact]
    public void RopeRotatesInterleavedPairsAndItsTransposeUndoesIt()
    {
        var rope = new Rope(Presets.Get("tiny"));
        rope.EnsureCapacity(100);
        var x = TestUtil.RandomArray(rope.Dim, 9);
        var y = (float[])x.Clone();
        rope.Apply(y, 37);
        for (int j = 0; j < rope.Dim / 2; j++)
        {
            double angle = 37 * (double)rope.Frequencies[j];
            double e0 = x[2 * j] * Math.Cos(angle) - x[2 * j + 1] * Math.Sin(angle);
            double e1 = x[2 * j] * Math.Sin(angle) + x[2 * j + 1] * Math.Cos(angle);
            Assert.Equal(e0, y[2 * j], 5);
            Assert.Equal(e1, y[2 * j + 1], 5);
        }
        rope.ApplyTranspose(y, 37);
        TestUtil.AssertClose(y, x, 1e-6, "rope round trip");
    }
}
