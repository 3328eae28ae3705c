using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using Xunit;

namespace SeekSharp.Tests.Golden;

/// <summary>Decoding through the latent cache gives the logits of one full forward.</summary>
public class IncrementalDecodeTests
{
    private static readonly WorkerPool Pool = new(2);

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void OneTokenAtATimeMatchesTheGoldenLogits(string name) => CheckChunks(name, Enumerable.Repeat(1, 48).ToArray());

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void ChunkedPrefillMatchesTheGoldenLogits(string name) => CheckChunks(name, [20, 1, 2, 12, 13]);   // 20, 12, 13 > 8: naive over the cache

    private static void CheckChunks(string name, int[] chunks)
    {
        var g = new GoldenCase(name);
        var model = ModelLoader.Load(g.Dir);
        var c = model.Config;
        var cache = new LatentKvCache(c.NumHiddenLayers, 64, c.KvLoraRank, c.QkRopeHeadDim);
        var ctx = new ForwardContext(Pool);
        var state = model.CreateState();
        var logits = new float[g.Tokens.Length * c.VocabSize];
        int pos = 0;
        foreach (int len in chunks)
        {
            ctx.Arena.Reset();
            model.Forward(ctx, g.Tokens.AsSpan(pos, len), BatchLayout.Single(len, pos), state, cache: cache);
            Assert.Equal(pos + len, cache.Length);
            state.Logits.Span.CopyTo(logits.AsSpan(pos * c.VocabSize));
            pos += len;
        }
        Assert.Equal(g.Tokens.Length, pos);
        TestUtil.AssertClose(logits, g.Raw("logits.f32"), 1e-5, $"{name} cached decode");
    }

    [Fact]
    public void AFullCacheIsAClearError()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var model = ModelLoader.Load(g.Dir);
        var c = model.Config;
        var cache = new LatentKvCache(c.NumHiddenLayers, 4, c.KvLoraRank, c.QkRopeHeadDim);
        var ctx = new ForwardContext(Pool);
        var e = Assert.Throws<ContextFullException>(() => model.Forward(ctx, g.Tokens.AsSpan(0, 5), BatchLayout.Single(5), model.CreateState(), cache: cache));
        Assert.Contains("context is full", e.Message);
    }
}
