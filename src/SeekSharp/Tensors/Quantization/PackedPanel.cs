using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// Eight weight rows repacked for the prefill kernels (<see cref="PanelKernels"/>), one panel block per stored block:
/// first the eight scales as float32, then the codes interleaved four bytes at a time, so that one 32-byte register
/// holds the same four columns of all eight rows and its int32 lanes are the eight output rows.
/// </summary>
/// <remarks>
/// <para>Q8_0 panel block (544 bytes): <c>float d[8]; int8 q[8 chunks][8 rows][4]; u8 absq[8][8][4]</c>, chunk c
/// holding columns 4c..4c+3; |q| is stored too because the kernel moves the sign of x onto it (one activation broadcast
/// per chunk instead of two: 5–28% faster than keeping |x| on the activation side).</para>
/// <para>Q4_0 panel block (160 bytes): <c>float d[8]; u8 qs[4 chunks][8 rows][4]</c>, the stored nibble bytes moved as
/// they are: chunk c holds bytes 4c..4c+3 of each row, whose low nibbles are columns 4c..4c+3 and high nibbles columns
/// 16+4c..16+4c+3.</para>
/// <para>Rows past the end of the matrix are packed as zero scales and zero codes, so they contribute nothing.
/// The packing is a transpose of 4-byte units, done with the same unpack/shuffle steps as an 8×8 float transpose.</para>
/// </remarks>
internal static unsafe class PackedPanel
{
    public const int Rows = 8;
    public const int ScaleBytes = Rows * sizeof(float);

    /// <summary>Bytes of one panel block for weights of <paramref name="type"/>.</summary>
    public static int BlockBytes(QuantType type) => ScaleBytes + Rows * (type == QuantType.Q8_0 ? 2 * 32 : 16);

    /// <summary>Offset of |q| inside a Q8_0 panel block.</summary>
    public const int AbsOffset = ScaleBytes + Rows * 32;

    /// <summary>Packs <paramref name="valid"/> (≤ 8) rows of <paramref name="w"/> from <paramref name="row0"/> into <paramref name="panel"/>, the rest as zeros.</summary>
    public static void Pack(QuantizedMatrix w, int row0, int valid, byte* panel)
    {
        int blocks = w.BlocksPerRow, blockBytes = w.Type.BlockBytes();
        int panelBlockBytes = BlockBytes(w.Type);
        float* f16 = HalfScale.Table;
        // Rows past the end read a zero block instead (a scale of +0 and codes 0).
        byte* zero = stackalloc byte[Q8_0Block.Bytes];
        new Span<byte>(zero, Q8_0Block.Bytes).Clear();
        byte** rows = stackalloc byte*[Rows];
        for (int r = 0; r < Rows; r++) rows[r] = r < valid ? w.RowPointer(row0 + r) : zero;
        // Eight rows are eight short streams, which the hardware prefetcher follows badly: ask for them ahead, about one
        // prefetch per 64 bytes consumed from each row.
        int prefetchEvery = w.Type == QuantType.Q8_0 ? 2 : 4;
        long ahead = (long)QuantizedGemm.PrefetchBlocks * blockBytes;
        for (int b = 0; b < blocks; b++, panel += panelBlockBytes)
        {
            if (b % prefetchEvery == 0)
                for (int r = 0; r < valid; r++) Sse.Prefetch0(rows[r] + ahead);
            float* scales = (float*)panel;
            for (int r = 0; r < Rows; r++) scales[r] = f16[*(ushort*)rows[r]];
            if (w.Type == QuantType.Q8_0)
            {
                TransposeDwords8x8(rows, panel + ScaleBytes);
                for (int k = 0; k < Rows * 32; k += 32)
                    Avx.Store(panel + AbsOffset + k, Avx2.Abs(Avx.LoadVector256((sbyte*)panel + ScaleBytes + k)));
            }
            else TransposeDwords8x4(rows, panel + ScaleBytes);
            for (int r = 0; r < valid; r++) rows[r] += blockBytes;
        }
    }

    // 8 rows × 8 dwords (codes at +2 of each block) → 8 chunks × 8 rows.
    private static void TransposeDwords8x8(byte** rows, byte* dst)
    {
        Kernels.Transpose8x8.Store(Load(rows[0]), Load(rows[1]), Load(rows[2]), Load(rows[3]),
            Load(rows[4]), Load(rows[5]), Load(rows[6]), Load(rows[7]), (float*)dst, 8);

        static Vector256<float> Load(byte* block) => Avx.LoadVector256((float*)(block + 2));
    }

    // 8 rows × 4 dwords (nibble bytes at +2 of each block) → 4 chunks × 8 rows. Rows r and r+4 share a register.
    private static void TransposeDwords8x4(byte** rows, byte* dst)
    {
        Vector256<float> a = Load(rows[0], rows[4]), b = Load(rows[1], rows[5]), c = Load(rows[2], rows[6]), d = Load(rows[3], rows[7]);
        var t0 = Avx.UnpackLow(a, b); var t1 = Avx.UnpackHigh(a, b);
        var t2 = Avx.UnpackLow(c, d); var t3 = Avx.UnpackHigh(c, d);
        float* o = (float*)dst;
        Avx.Store(o + 0, Avx.Shuffle(t0, t2, 0x44));
        Avx.Store(o + 8, Avx.Shuffle(t0, t2, 0xEE));
        Avx.Store(o + 16, Avx.Shuffle(t1, t3, 0x44));
        Avx.Store(o + 24, Avx.Shuffle(t1, t3, 0xEE));

        static Vector256<float> Load(byte* low, byte* high) =>
            Vector256.Create(Sse.LoadVector128((float*)(low + 2)), Sse.LoadVector128((float*)(high + 2)));
    }
}
