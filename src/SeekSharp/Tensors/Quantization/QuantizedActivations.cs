using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// The left-hand side x [m, cols] of a quantised product, quantised on the fly to int8 blocks of 32 so that the dot
/// products with weight blocks run on integers (<c>pmaddubsw</c>), as llama.cpp does.
/// </summary>
/// <remarks>
/// <para>Per block of 32 activations: <c>s = amax/127</c> (float32, not rounded to F16: it is never stored),
/// <c>q = round(x·127/amax)</c> half to even, in [−127, 127], and the code sum Σq, which Q4_0's −8 offset needs. A row is
/// padded with zero codes to whole blocks, so padded weight columns meet zeros. The relative error this adds to a
/// dot product is about 1/(127·√12·rms/amax) of it, ~0.3% for well-spread activations (see docs/quantization.md).</para>
/// <para>Special blocks: amax below <see cref="FlushBelow"/> (or exactly zero) gives s = 0 and zero codes, so the
/// block contributes exactly 0 (127/amax would overflow); a NaN or infinity gives s = NaN, so every output that uses
/// the block is NaN, as a float product would be (at least not a silent finite number).</para>
/// <para>The AVX2 path and <see cref="QuantizeRowScalar"/> (the reference) produce identical bits: both compute
/// x·(127/amax) in float32 and round half to even.</para>
/// </remarks>
internal sealed unsafe class QuantizedActivations
{
    public const float FlushBelow = 1e-30f;
    private const int BlockSize = QuantFormat.BlockSize;

    private sbyte[] _codes = [];
    private byte[] _absCodes = [];
    private float[] _scales = [];
    private int[] _sums = [];

    public int Rows { get; private set; }
    public int BlocksPerRow { get; private set; }

    /// <summary>Codes, [Rows, BlocksPerRow·32], row-major.</summary>
    public sbyte* Codes { get; private set; }
    /// <summary>|q|, same layout as <see cref="Codes"/> (the unsigned operand of Q8_0's dot product).</summary>
    public byte* AbsCodes { get; private set; }
    /// <summary>Block scales s, [Rows, BlocksPerRow].</summary>
    public float* Scales { get; private set; }
    /// <summary>Code sums Σq per block, [Rows, BlocksPerRow].</summary>
    public int* Sums { get; private set; }

    public sbyte* RowCodes(int row) => Codes + (long)row * BlocksPerRow * BlockSize;
    public byte* RowAbsCodes(int row) => AbsCodes + (long)row * BlocksPerRow * BlockSize;
    public float* RowScales(int row) => Scales + (long)row * BlocksPerRow;
    public int* RowSums(int row) => Sums + (long)row * BlocksPerRow;

    /// <summary>Sizes the buffers for m rows of <paramref name="cols"/> (growing them if needed; never shrinking).</summary>
    public void Prepare(int m, int cols)
    {
        Rows = m;
        BlocksPerRow = QuantFormat.BlocksPerRow(cols);
        int blocks = checked(m * BlocksPerRow);
        Codes = (sbyte*)Pinned(ref _codes, checked(blocks * BlockSize));
        AbsCodes = (byte*)Pinned(ref _absCodes, blocks * BlockSize);
        Scales = (float*)Pinned(ref _scales, blocks);
        Sums = (int*)Pinned(ref _sums, blocks);
    }

    private static void* Pinned<T>(ref T[] buffer, int length) where T : unmanaged
    {
        if (buffer.Length < length) buffer = GC.AllocateUninitializedArray<T>(Math.Max(length, 2 * buffer.Length), pinned: true);
        return Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }

    /// <summary>Quantises row <paramref name="row"/> of the prepared layout from <paramref name="x"/> (cols floats).</summary>
    public void QuantizeRow(int row, float* x, int cols)
    {
        QuantizeCodes(row, x, cols);
        sbyte* codes = RowCodes(row);
        byte* abs = RowAbsCodes(row);
        int n = BlocksPerRow * BlockSize, i = 0;
        if (Avx2.IsSupported)
            for (; i < n; i += BlockSize) Avx.Store(abs + i, Avx2.Abs(Avx.LoadVector256(codes + i)));
        for (; i < n; i++) abs[i] = (byte)Math.Abs(codes[i]);
    }

    private void QuantizeCodes(int row, float* x, int cols)
    {
        sbyte* codes = RowCodes(row);
        float* scales = RowScales(row);
        int* sums = RowSums(row);
        int full = cols / BlockSize;
        bool simd = Avx2.IsSupported;
        for (int b = 0; b < full; b++)
        {
            if (simd) QuantizeBlockAvx2(x + b * BlockSize, codes + b * BlockSize, out scales[b], out sums[b]);
            else QuantizeBlockScalar(new ReadOnlySpan<float>(x + b * BlockSize, BlockSize), new Span<sbyte>(codes + b * BlockSize, BlockSize), out scales[b], out sums[b]);
        }
        if (full < BlocksPerRow)
        {
            // The partial last block, zero-padded.
            Span<float> padded = stackalloc float[BlockSize];
            padded.Clear();
            new ReadOnlySpan<float>(x + full * BlockSize, cols - full * BlockSize).CopyTo(padded);
            QuantizeBlockScalar(padded, new Span<sbyte>(codes + full * BlockSize, BlockSize), out scales[full], out sums[full]);
        }
    }

    /// <summary>The reference rule for one row: <paramref name="x"/> padded with zeros to whole blocks.</summary>
    public static void QuantizeRowScalar(ReadOnlySpan<float> x, Span<sbyte> codes, Span<float> scales, Span<int> sums)
    {
        int blocks = QuantFormat.BlocksPerRow(x.Length);
        Span<float> padded = stackalloc float[BlockSize];
        for (int b = 0; b < blocks; b++)
        {
            padded.Clear();
            var part = x.Slice(b * BlockSize, Math.Min(BlockSize, x.Length - b * BlockSize));
            part.CopyTo(padded);
            QuantizeBlockScalar(padded, codes.Slice(b * BlockSize, BlockSize), out scales[b], out sums[b]);
        }
    }

    private static void QuantizeBlockScalar(ReadOnlySpan<float> x, Span<sbyte> codes, out float scale, out int sum)
    {
        float amax = 0;
        bool finite = true;
        foreach (float v in x)
        {
            finite &= float.IsFinite(v);
            amax = Math.Max(amax, Math.Abs(v));
        }
        codes.Clear();
        sum = 0;
        if (!finite) { scale = float.NaN; return; }
        if (!(amax >= FlushBelow)) { scale = 0; return; }
        scale = amax / 127f;
        float inverse = 127f / amax;
        for (int i = 0; i < BlockSize; i++)
        {
            int q = (int)MathF.Round(x[i] * inverse);   // |q| ≤ 127: |x·127/amax| ≤ 127 up to one rounding
            codes[i] = (sbyte)q;
            sum += q;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeBlockAvx2(float* x, sbyte* codes, out float scale, out int sum)
    {
        var v0 = Avx.LoadVector256(x);
        var v1 = Avx.LoadVector256(x + 8);
        var v2 = Avx.LoadVector256(x + 16);
        var v3 = Avx.LoadVector256(x + 24);
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var a0 = Avx.And(v0, absMask);
        var a1 = Avx.And(v1, absMask);
        var a2 = Avx.And(v2, absMask);
        var a3 = Avx.And(v3, absMask);
        // NaN or ±∞ anywhere: "not less than +∞" is true exactly for those.
        var inf = Vector256.Create(float.PositiveInfinity);
        var special = Avx.Or(Avx.Or(Avx.CompareNotLessThan(a0, inf), Avx.CompareNotLessThan(a1, inf)),
                             Avx.Or(Avx.CompareNotLessThan(a2, inf), Avx.CompareNotLessThan(a3, inf)));
        if (Avx.MoveMask(special) != 0)
        {
            Avx.Store((byte*)codes, Vector256<byte>.Zero);
            (scale, sum) = (float.NaN, 0);
            return;
        }
        var m = Avx.Max(Avx.Max(a0, a1), Avx.Max(a2, a3));
        var m4 = Sse.Max(m.GetLower(), m.GetUpper());
        m4 = Sse.Max(m4, Sse.MoveHighToLow(m4, m4));
        float amax = Math.Max(m4.ToScalar(), m4.GetElement(1));
        if (!(amax >= FlushBelow))
        {
            Avx.Store((byte*)codes, Vector256<byte>.Zero);
            (scale, sum) = (0, 0);
            return;
        }
        scale = amax / 127f;
        var inverse = Vector256.Create(127f / amax);
        // cvtps2dq rounds half to even (the default MXCSR mode), like MathF.Round.
        var q0 = Avx.ConvertToVector256Int32(Avx.Multiply(v0, inverse));
        var q1 = Avx.ConvertToVector256Int32(Avx.Multiply(v1, inverse));
        var q2 = Avx.ConvertToVector256Int32(Avx.Multiply(v2, inverse));
        var q3 = Avx.ConvertToVector256Int32(Avx.Multiply(v3, inverse));
        sum = Vector256.Sum(Avx2.Add(Avx2.Add(q0, q1), Avx2.Add(q2, q3)));
        // Narrow 4×8 int32 → 32 int8. The packs work within 128-bit lanes, leaving dword order 0,2,4,6,1,3,5,7.
        var q01 = Avx2.PackSignedSaturate(q0, q1);
        var q23 = Avx2.PackSignedSaturate(q2, q3);
        var bytes = Avx2.PackSignedSaturate(q01, q23).AsInt32();
        var ordered = Avx2.PermuteVar8x32(bytes, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
        Avx.Store((int*)codes, ordered);
    }
}
