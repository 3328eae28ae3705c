using System.Buffers.Binary;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// One Q8_0 block: 32 weights as <c>{ f16 d; int8 q[32] }</c> (34 bytes), <c>w[i] = d·q[i]</c>, q in [−127, 127].
/// </summary>
/// <remarks>
/// The scale is the smallest F16 ≥ amax/127, so |w/d| ≤ 127 without clamping and every element is within d/2 of
/// its value (rounding half to even). −128 is never produced and is rejected on loading: the AVX2 dot product takes
/// absolute values, and |−128| does not fit an int8.
/// </remarks>
internal static class Q8_0Block
{
    public const int Bytes = 2 + QuantFormat.BlockSize;
    public const int MaxCode = 127;

    /// <summary>Quantises <paramref name="values"/> (at most 32; the rest of the block is zero) into <paramref name="block"/>.</summary>
    /// <returns>False when the scale overflows F16 (amax above 65504·127 ≈ 8.3e6); the block is then left unspecified.</returns>
    public static bool TryQuantize(ReadOnlySpan<float> values, Span<byte> block)
    {
        float amax = 0;
        foreach (float v in values) amax = Math.Max(amax, Math.Abs(v));
        ushort d = HalfScale.AwayFromZero(amax / MaxCode);
        if (!HalfScale.IsFinite(d)) return false;
        BinaryPrimitives.WriteUInt16LittleEndian(block, d);
        float scale = HalfScale.ToSingle(d);
        var q = block.Slice(2, QuantFormat.BlockSize);
        q.Clear();
        if (scale == 0) return true;
        for (int i = 0; i < values.Length; i++)
            q[i] = (byte)(sbyte)Math.Clamp((int)MathF.Round(values[i] / scale), -MaxCode, MaxCode);
        return true;
    }

    /// <summary>The first <paramref name="destination"/>.Length (≤ 32) weights of the block.</summary>
    public static void Dequantize(ReadOnlySpan<byte> block, Span<float> destination)
    {
        float d = HalfScale.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(block));
        for (int i = 0; i < destination.Length; i++) destination[i] = d * (sbyte)block[2 + i];
    }

    /// <summary>Why the block cannot be used, or null: a non-finite scale or a −128 code.</summary>
    public static string? Validate(ReadOnlySpan<byte> block)
    {
        if (!HalfScale.IsFinite(BinaryPrimitives.ReadUInt16LittleEndian(block))) return "its scale is not finite";
        if (block[2..Bytes].Contains((byte)0x80)) return "it holds the code −128 (Q8_0 codes are in [−127, 127])";
        return null;
    }
}
