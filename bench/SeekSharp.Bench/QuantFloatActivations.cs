using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Bench;

/// <summary>
/// The alternative the library did not take, kept here to be measured against it: a Q8_0 GEMV (m = 1) that keeps x in
/// float32 and widens each block's int8 codes to float (sign-extend, convert, FMA), instead of quantising x to int8.
/// Exact in x, but per block it needs ~13 vector operations against ~8 for <c>pmaddubsw</c> on int8 codes. One thread,
/// built on the public <see cref="QuantizedMatrix.RawBytes"/> only.
/// </summary>
internal static unsafe class QuantFloatActivations
{
    public static void Gemv(QuantizedMatrix w, float[] x, float[] y)
    {
        if (w.Type != QuantType.Q8_0 || w.Cols % 32 != 0) throw new ArgumentException("Q8_0 with whole blocks only.");
        fixed (byte* data = w.RawBytes) fixed (float* px = x) fixed (float* py = y)
            for (int j = 0; j < w.Rows; j++) py[j] = Row(data + (long)j * w.RowBytes, w.BlocksPerRow, px);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Row(byte* block, int blocks, float* x)
    {
        Vector256<float> acc0 = default, acc1 = default;
        for (int b = 0; b < blocks; b++, block += 34, x += 32)
        {
            sbyte* q = (sbyte*)(block + 2);
            var t = Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q)), Avx.LoadVector256(x));
            t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 8)), Avx.LoadVector256(x + 8), t);
            t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 16)), Avx.LoadVector256(x + 16), t);
            t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 24)), Avx.LoadVector256(x + 24), t);
            uint h = *(ushort*)block;   // F16 → float32 without a call (finite scales only)
            var d = Vector256.Create(BitConverter.UInt32BitsToSingle(((h & 0x7FFF) << 13) | ((h & 0x8000) << 16)) * 5.192297e33f);
            if ((b & 1) == 0) acc0 = Fma.MultiplyAdd(t, d, acc0);
            else acc1 = Fma.MultiplyAdd(t, d, acc1);
        }
        return Vector256.Sum(Avx.Add(acc0, acc1));
    }
}
