using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using Xunit;

namespace SeekSharp.Tests.Golden;

public class DecodeAllocationTests
{
    [Fact]
    public void ADecodeStepAllocatesNothingOnceWarm()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var model = ModelLoader.Load(g.Dir);
        var c = model.Config;
        using var pool = new WorkerPool(2);
        var ctx = new ForwardContext(pool);
        var state = model.CreateState();
        var cache = new LatentKvCache(c.NumHiddenLayers, 64, c.KvLoraRank, c.QkRopeHeadDim);
        model.Rope.EnsureCapacity(cache.Capacity);     // as DecodeEngine.NewSequence does: the RoPE table never grows mid-decode
        var request = new ForwardRequest { LogitsRows = LogitsRows.All };
        int[] token = [g.Tokens[0]];
        void Step(int pos)
        {
            ctx.Arena.Reset();
            token[0] = g.Tokens[pos];
            model.Forward(ctx, token, BatchLayout.Single(1, pos), state, request, cache);
        }
        for (int i = 0; i < 8; i++) Step(i);           // warm: arenas, routing buffers, JIT
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 8; i < 40; i++) Step(i);
        long perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / 32;
        Assert.True(perStep < 256, $"{perStep} bytes allocated per decode step");
    }
}
