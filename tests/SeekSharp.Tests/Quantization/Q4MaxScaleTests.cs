using SeekSharp.Tensors.Quantization;
using Xunit;

namespace SeekSharp.Tests.Quantization;

public class Q4MaxScaleTests
{
    [Fact]
    public void LlamaCppScaleRuleKeepsEveryWeightWithinHalfAStep()
    {
        var values = TestUtil.RandomArray(32, seed: 9, scale: 0.02f);
        var block = new byte[Q4_0Block.Bytes];
        Assert.True(Q4_0Block.TryQuantizeWithMaxScale(values, block));
        Assert.Null(Q4_0Block.Validate(block));
        var back = new float[32];
        Q4_0Block.Dequantize(block, back);
        float m = values.MaxBy(Math.Abs);
        float step = Math.Abs(m) / 8;
        Assert.Equal(m, back[Array.IndexOf(values, m)], 0.002f * Math.Abs(m));   // the largest maps to code −8 (or its F16-rounded scale)
        // Codes run from −8 to 7: within half a step, or one step for a value clamped at the other end.
        for (int i = 0; i < 32; i++) Assert.True(Math.Abs(back[i] - values[i]) <= step * 1.01f, $"weight {i}: {values[i]} → {back[i]}");
        Assert.False(Q4_0Block.TryQuantizeWithMaxScale([1e7f], block));
    }
}
