using SeekSharp.Tensors.Quantization;
using Xunit;

namespace SeekSharp.Tests.Quantization;

public class HalfScaleTests
{
    [Fact]
    public void EveryFiniteF16DecodesExactly()
    {
        for (int bits = 0; bits < 65536; bits++)
        {
            if (!HalfScale.IsFinite((ushort)bits)) { Assert.False(Half.IsFinite(BitConverter.UInt16BitsToHalf((ushort)bits))); continue; }
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(HalfScale.ToSingle((ushort)bits)));
        }
    }

    [Fact]
    public void AwayFromZeroIsTheSmallestF16NotBelow()
    {
        var rng = new Random(1);
        for (int i = 0; i < 100000; i++)
        {
            float v = (float)(rng.NextDouble() * Math.Pow(2, rng.Next(-30, 17)));
            ushort d = HalfScale.AwayFromZero(v);
            float up = HalfScale.ToSingle(d);
            Assert.True(up >= v, $"{up} < {v}");
            if (d > 0) Assert.True(HalfScale.ToSingle((ushort)(d - 1)) < v);
        }
        Assert.Equal(0x7C00, HalfScale.AwayFromZero(65505f));   // beyond the largest F16: infinity, which callers reject
        Assert.Equal(0, HalfScale.AwayFromZero(0f));
    }
}
