using SeekSharp.Formats;
using SeekSharp.Tensors.Kernels;
using Xunit;

namespace SeekSharp.Tests.Formats;

public class DTypeConversionsTests
{
    // ------------------------------------------------------------------ BF16

    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)] // 1.0
    [InlineData(0x3F808000u, (ushort)0x3F80)] // 1 + 2^-8: tie, kept bit even → down
    [InlineData(0x3F818000u, (ushort)0x3F82)] // 1 + 3·2^-8: tie, kept bit odd → up
    [InlineData(0x3F808001u, (ushort)0x3F81)] // just above the tie → up
    [InlineData(0x3F807FFFu, (ushort)0x3F80)] // just below the tie → down
    [InlineData(0xBFC00000u, (ushort)0xBFC0)] // -1.5
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)] // float.MaxValue rounds up to +infinity
    [InlineData(0x7F7F7FFFu, (ushort)0x7F7F)] // largest that stays finite
    [InlineData(0x7F800000u, (ushort)0x7F80)] // +inf
    [InlineData(0xFF800000u, (ushort)0xFF80)] // -inf
    [InlineData(0x80000000u, (ushort)0x8000)] // -0
    [InlineData(0x00000001u, (ushort)0x0000)] // smallest subnormal rounds to zero
    [InlineData(0x00018000u, (ushort)0x0002)] // subnormal tie, odd → up
    [InlineData(0x7FC00000u, (ushort)0x7FC0)] // quiet NaN
    [InlineData(0x7F800001u, (ushort)0x7FC0)] // NaN with only low payload: must not become infinity
    [InlineData(0xFF800001u, (ushort)0xFFC0)] // negative NaN keeps its sign
    [InlineData(0x7FA00000u, (ushort)0x7FE0)] // high payload kept, quiet bit set
    public void Float32ToBFloat16_RoundsToNearestEvenAndKeepsNaN(uint floatBits, ushort expected)
    {
        Assert.Equal(expected, FloatFormats.Float32ToBFloat16(BitConverter.UInt32BitsToSingle(floatBits)));
    }

    [Fact]
    public void BFloat16ToFloat32_IsExactWidening()
    {
        Assert.Equal(1f, FloatFormats.BFloat16ToFloat32(0x3F80));
        Assert.Equal(-2f, FloatFormats.BFloat16ToFloat32(0xC000));
        Assert.True(float.IsNaN(FloatFormats.BFloat16ToFloat32(0x7FC0)));
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float value = FloatFormats.BFloat16ToFloat32((ushort)bits);
            if (!float.IsNaN(value)) Assert.Equal((ushort)bits, FloatFormats.Float32ToBFloat16(value));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(1000)]
    public void BFloat16Bulk_MatchesScalar(int length)
    {
        var random = new Random(length);
        var floats = RandomFloatBits(random, length);
        var bf16 = new ushort[length];
        FloatFormats.Float32ToBFloat16(floats, bf16);
        for (int i = 0; i < length; i++) Assert.Equal(FloatFormats.Float32ToBFloat16(floats[i]), bf16[i]);

        var back = new float[length];
        FloatFormats.BFloat16ToFloat32(bf16, back);
        for (int i = 0; i < length; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(FloatFormats.BFloat16ToFloat32(bf16[i])), BitConverter.SingleToUInt32Bits(back[i]));
    }

    [Fact]
    public void Bulk_RejectsLengthMismatch()
    {
        Assert.Throws<ArgumentException>(() => FloatFormats.BFloat16ToFloat32(new ushort[3], new float[4]));
        Assert.Throws<ArgumentException>(() => DTypeConversions.ToFloat32(TensorDType.BF16, new byte[6], new float[4]));
        Assert.Throws<ArgumentException>(() => DTypeConversions.ToFloat32(TensorDType.I32, new byte[16], new float[4]));
    }

    // ------------------------------------------------------------------ F16 and F64

    [Fact]
    public void HalfAndDouble_RoundTripThroughBytes()
    {
        var values = new[] { 0f, -0f, 1f, -2.5f, 65504f, 1e-7f, 70000f, float.PositiveInfinity, 0.1f };
        var half = new byte[values.Length * 2];
        DTypeConversions.FromFloat32(TensorDType.F16, values, half);
        var back = new float[values.Length];
        DTypeConversions.ToFloat32(TensorDType.F16, half, back);
        for (int i = 0; i < values.Length; i++) Assert.Equal((float)(Half)values[i], back[i]);

        var wide = new byte[values.Length * 8];
        DTypeConversions.FromFloat32(TensorDType.F64, values, wide);
        DTypeConversions.ToFloat32(TensorDType.F64, wide, back);
        Assert.Equal(values, back);
    }

    // ------------------------------------------------------------------ FP8 E4M3

    [Fact]
    public void E4M3_ReferenceNumbersFromSpec()
    {
        Assert.Equal(448f, FloatFormats.E4M3ToFloat32(0x7E));
        Assert.Equal(1f, FloatFormats.E4M3ToFloat32(0x38));
        Assert.Equal(MathF.ScaleB(1, -9), FloatFormats.E4M3ToFloat32(0x01));
        Assert.Equal(MathF.ScaleB(1, -6), FloatFormats.E4M3ToFloat32(0x08));
        Assert.True(float.IsNaN(FloatFormats.E4M3ToFloat32(0x7F)));
        Assert.True(float.IsNaN(FloatFormats.E4M3ToFloat32(0xFF)));
        Assert.Equal(-448f, FloatFormats.E4M3ToFloat32(0xFE));
        Assert.Equal(0f, FloatFormats.E4M3ToFloat32(0x00));
        Assert.True(float.IsNegative(FloatFormats.E4M3ToFloat32(0x80)));
    }

    [Fact]
    public void E4M3_EveryCodeDecodesAndEncodesToItself()
    {
        for (int code = 0; code < 256; code++)
        {
            float value = FloatFormats.E4M3ToFloat32((byte)code);
            if ((code & 0x7F) == 0x7F)
                Assert.True(float.IsNaN(value), $"code 0x{code:X2}");
            else
                Assert.Equal((byte)code, FloatFormats.Float32ToE4M3(value));
        }
    }

    [Theory]
    [InlineData(1.0625f, (byte)0x38)]         // 1 + 1/16: tie between 1.0 and 1.125 → even (1.0)
    [InlineData(1.1875f, (byte)0x3A)]         // tie between 1.125 and 1.25 → even (1.25)
    [InlineData(1.9375f, (byte)0x40)]         // tie between 1.875 and 2.0 → 2.0, carrying into the exponent
    [InlineData(0.0009765625f, (byte)0x00)]   // 2^-10: tie between 0 and 2^-9 → 0
    [InlineData(0.0029296875f, (byte)0x02)]   // 3·2^-10: tie between 2^-9 and 2^-8 → 2^-8
    [InlineData(0.0146484375f, (byte)0x08)]   // 15·2^-10: tie between the largest subnormal and 2^-6 → 2^-6
    [InlineData(-0.75f, (byte)0xB4)]
    [InlineData(464f, (byte)0x7E)]            // would round to 480 (a NaN code): saturates
    [InlineData(1e9f, (byte)0x7E)]
    [InlineData(-1e9f, (byte)0xFE)]
    [InlineData(float.PositiveInfinity, (byte)0x7E)]
    [InlineData(float.NegativeInfinity, (byte)0xFE)]
    [InlineData(float.NaN, (byte)0x7F)]
    [InlineData(-0f, (byte)0x80)]
    public void Float32ToE4M3_RoundsToNearestEvenAndSaturates(float value, byte expected)
    {
        Assert.Equal(expected, FloatFormats.Float32ToE4M3(value));
    }

    [Fact]
    public void Float32ToE4M3_MatchesBruteForceNearest()
    {
        var random = new Random(7);
        var samples = new List<float>();
        for (int i = 0; i < 20000; i++)
        {
            samples.Add((float)(random.NextDouble() * 1000 - 500));
            samples.Add((random.Next(2) == 0 ? 1 : -1) * MathF.ScaleB((float)random.NextDouble() + 1f, random.Next(-13, 10)));
        }
        for (int code = 0; code < 0x7E; code++) // every midpoint between neighbours: the ties
            samples.Add((FloatFormats.E4M3ToFloat32((byte)code) + FloatFormats.E4M3ToFloat32((byte)(code + 1))) / 2);

        foreach (var x in samples)
            Assert.Equal(NearestE4M3(x), FloatFormats.Float32ToE4M3(x));
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.00123f)]
    [InlineData(3.5f)]
    public void E4M3Bulk_MatchesTableTimesScale(float scale)
    {
        var codes = Enumerable.Range(0, 256).Select(c => (byte)c).Concat(Enumerable.Range(0, 77).Select(c => (byte)(c * 3))).ToArray();
        var values = new float[codes.Length];
        FloatFormats.E4M3ToFloat32(codes, values, scale);
        for (int i = 0; i < codes.Length; i++)
        {
            float expected = FloatFormats.E4M3ToFloat32(codes[i]) * scale;
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(values[i]));
            else Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(values[i]));
        }
    }

    // The oracle: the finite code closest to x, ties to the even code, beyond 448 saturated.
    private static byte NearestE4M3(float x)
    {
        byte sign = (byte)(float.IsNegative(x) ? 0x80 : 0);
        double magnitude = Math.Abs((double)x);
        int best = 0;
        for (int code = 1; code <= 0x7E; code++)
        {
            double error = Math.Abs(FloatFormats.E4M3ToFloat32((byte)code) - magnitude);
            double bestError = Math.Abs(FloatFormats.E4M3ToFloat32((byte)best) - magnitude);
            if (error < bestError || (error == bestError && code % 2 == 0)) best = code;
        }
        return (byte)(sign | best);
    }

    private static float[] RandomFloatBits(Random random, int length)
    {
        var specials = new[] { 0x7F800001u, 0xFFC00000u, 0x7F800000u, 0x00000001u, 0x3F808000u, 0x3F818000u, 0x80000000u };
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            uint bits = i % 5 == 0 ? specials[i / 5 % specials.Length] : (uint)random.NextInt64(0, 1L << 32);
            values[i] = BitConverter.UInt32BitsToSingle(bits);
        }
        return values;
    }
}
