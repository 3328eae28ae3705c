using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// The prefill micro-kernels: one activation tile (4 rows, <see cref="ActivationLayout.Tiles"/>) × one
/// <see cref="PackedPanel"/> (8 weight rows), a 4 × 8 tile of y with one float accumulator per activation row whose
/// 8 lanes are the 8 weight rows.
/// </summary>
/// <remarks>
/// <para>Per stored block and activation row: for each 4-column chunk, broadcast the row's four codes and multiply them
/// with the chunk's 8 × 4 weight codes (<c>pmaddubsw</c>, pairs summed); the block's integer dot products collect in an
/// integer register, then one convert and one FMA with (the 8 row scales × s_x) add the block. Compared with dot
/// products of whole rows there are no horizontal sums, and the float work is shared by 8 weight rows.</para>
/// <para>Q8_0 uses the sign trick per chunk (|w| from the panel, sign of w moved onto x) and widens every chunk to int32,
/// since two int16 pair sums of up to 32258 would overflow. Q4_0's codes are unsigned already, and its int16 pair sums
/// (≤ 2·15·127) collect over all eight chunks of a block (≤ 30480) before one widening; the −8 offset comes off as 8·Σx
/// per block.</para>
/// <para>Both walk two pointers (panel and tile), with every other address a constant offset: the chunks are unrolled.</para>
/// <para>Where the CPU has AVX-VNNI, <c>vpdpbusd</c> replaces <c>pmaddubsw</c> and the widening: each 4 adjacent products
/// go straight into an int32 lane, the same integers in fewer instructions (Q4_0 in its own method, <c>Q4Vnni</c>).</para>
/// </remarks>
internal static unsafe class PanelKernels
{
    /// <summary>
    /// y[i, 0..cols) (+)= (panel · tile_iᵀ) for i &lt; <paramref name="rows"/> (≤ 4), <paramref name="cols"/> ≤ 8; the
    /// tile has <paramref name="blocks"/> records of <paramref name="tileBlockBytes"/> bytes laid out as
    /// <see cref="QuantizedActivations"/> describes: codes [4][32], scales [4], sums [4].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8(byte* panel, byte* tile, int blocks, int tileBlockBytes, float* y, int ldy, int rows, int cols, bool accumulate)
    {
        const int scales = QuantizedActivations.TileRows * 32;   // offset inside a tile record
        var ones = Vector256.Create((short)1);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++, panel += PackedPanel.BlockBytes(QuantType.Q8_0), tile += tileBlockBytes)
        {
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            Q8Chunk(panel, tile, 0, ones, ref i0, ref i1, ref i2, ref i3);
            Q8Chunk(panel, tile, 1, ones, ref i0, ref i1, ref i2, ref i3);
            Q8Chunk(panel, tile, 2, ones, ref i0, ref i1, ref i2, ref i3);
            Q8Chunk(panel, tile, 3, ones, ref i0, ref i1, ref i2, ref i3);
            Q8Chunk(panel, tile, 4, ones, ref i0, ref i1, ref i2, ref i3);
            Q8Chunk(panel, tile, 5, ones, ref i0, ref i1, ref i2, ref i3);
            Q8Chunk(panel, tile, 6, ones, ref i0, ref i1, ref i2, ref i3);
            Q8Chunk(panel, tile, 7, ones, ref i0, ref i1, ref i2, ref i3);
            var d = Avx.LoadVector256((float*)panel);
            float* s = (float*)(tile + scales);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), Avx.Multiply(d, Vector256.Create(s[0])), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), Avx.Multiply(d, Vector256.Create(s[1])), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2), Avx.Multiply(d, Vector256.Create(s[2])), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3), Avx.Multiply(d, Vector256.Create(s[3])), acc3);
        }
        Store(y, ldy, rows, cols, accumulate, acc0, acc1, acc2, acc3);
    }

    // Chunk c (columns 4c..4c+3) of a block: 8 weight rows × the same 4 columns of each activation row, 8 int32 lanes
    // each. Σ w·x = Σ |w|·(x·sign w): psignb moves w's sign onto the broadcast x, so |w| is the unsigned operand.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q8Chunk(byte* panel, byte* tile, int c, Vector256<short> ones,
        ref Vector256<int> i0, ref Vector256<int> i1, ref Vector256<int> i2, ref Vector256<int> i3)
    {
        var w = Avx.LoadVector256((sbyte*)panel + PackedPanel.ScaleBytes + 32 * c);
        var absW = Avx.LoadVector256(panel + PackedPanel.AbsOffset + 32 * c);
        i0 = Dot(i0, w, absW, tile + 4 * c, ones);
        i1 = Dot(i1, w, absW, tile + 32 + 4 * c, ones);
        i2 = Dot(i2, w, absW, tile + 64 + 4 * c, ones);
        i3 = Dot(i3, w, absW, tile + 96 + 4 * c, ones);

        // sum + Σ |w|·(x·sign w) over each 4 adjacent bytes: vpdpbusd where the CPU has AVX-VNNI (the same integers).
        static Vector256<int> Dot(Vector256<int> sum, Vector256<sbyte> w, Vector256<byte> absW, byte* x, Vector256<short> ones)
        {
            var signed = Avx2.Sign(Vector256.Create(*(int*)x).AsSByte(), w);
            if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(sum, absW, signed);
            return Avx2.Add(sum, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, signed), ones));
        }
    }

    /// <inheritdoc cref="Q8"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4(byte* panel, byte* tile, int blocks, int tileBlockBytes, float* y, int ldy, int rows, int cols, bool accumulate)
    {
        if (AvxVnni.IsSupported)
        {
            Q4Vnni(panel, tile, blocks, tileBlockBytes, y, ldy, rows, cols, accumulate);
            return;
        }
        const int scales = QuantizedActivations.TileRows * 32, sums = scales + 16;
        var ones = Vector256.Create((short)1);
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++, panel += PackedPanel.BlockBytes(QuantType.Q4_0), tile += tileBlockBytes)
        {
            Vector256<short> i0 = default, i1 = default, i2 = default, i3 = default;
            byte* w = panel + PackedPanel.ScaleBytes;
            Q4Chunk(w, tile, 0, mask, ref i0, ref i1, ref i2, ref i3);
            Q4Chunk(w, tile, 1, mask, ref i0, ref i1, ref i2, ref i3);
            Q4Chunk(w, tile, 2, mask, ref i0, ref i1, ref i2, ref i3);
            Q4Chunk(w, tile, 3, mask, ref i0, ref i1, ref i2, ref i3);
            var d = Avx.LoadVector256((float*)panel);
            float* s = (float*)(tile + scales);
            int* sum = (int*)(tile + sums);
            acc0 = Fma.MultiplyAdd(Levels(i0, sum[0], ones), Avx.Multiply(d, Vector256.Create(s[0])), acc0);
            acc1 = Fma.MultiplyAdd(Levels(i1, sum[1], ones), Avx.Multiply(d, Vector256.Create(s[1])), acc1);
            acc2 = Fma.MultiplyAdd(Levels(i2, sum[2], ones), Avx.Multiply(d, Vector256.Create(s[2])), acc2);
            acc3 = Fma.MultiplyAdd(Levels(i3, sum[3], ones), Avx.Multiply(d, Vector256.Create(s[3])), acc3);
        }
        Store(y, ldy, rows, cols, accumulate, acc0, acc1, acc2, acc3);

        // Σ c·x (int16 pairs widened) − 8·Σx, as float.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Levels(Vector256<short> products, int sumX, Vector256<short> ones) =>
            Avx.ConvertToVector256Single(Avx2.Subtract(Avx2.MultiplyAddAdjacent(products, ones), Vector256.Create(8 * sumX)));
    }

    // Packed chunk c: low nibbles are columns 4c..4c+3, high nibbles columns 16+4c..16+4c+3, of 8 weight rows.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4Chunk(byte* w, byte* tile, int c, Vector256<byte> mask,
        ref Vector256<short> i0, ref Vector256<short> i1, ref Vector256<short> i2, ref Vector256<short> i3)
    {
        var packed = Avx.LoadVector256(w + 32 * c);
        var low = Avx2.And(packed, mask);
        var high = Avx2.And(Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), mask);
        i0 = Avx2.Add(i0, Avx2.Add(Dot(low, tile + 4 * c), Dot(high, tile + 16 + 4 * c)));
        i1 = Avx2.Add(i1, Avx2.Add(Dot(low, tile + 32 + 4 * c), Dot(high, tile + 48 + 4 * c)));
        i2 = Avx2.Add(i2, Avx2.Add(Dot(low, tile + 64 + 4 * c), Dot(high, tile + 80 + 4 * c)));
        i3 = Avx2.Add(i3, Avx2.Add(Dot(low, tile + 96 + 4 * c), Dot(high, tile + 112 + 4 * c)));

        static Vector256<short> Dot(Vector256<byte> w, byte* x) => Avx2.MultiplyAddAdjacent(w, Vector256.Create(*(int*)x).AsSByte());
    }

    // Q4_0 with AVX-VNNI: vpdpbusd sums each 4 code × activation products straight into the int32 lanes, which start at
    // −8·Σx, so a block's integers need no int16 stage and no widening: the same integers as the path above.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4Vnni(byte* panel, byte* tile, int blocks, int tileBlockBytes, float* y, int ldy, int rows, int cols, bool accumulate)
    {
        const int scales = QuantizedActivations.TileRows * 32, sums = scales + 16;
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++, panel += PackedPanel.BlockBytes(QuantType.Q4_0), tile += tileBlockBytes)
        {
            int* sum = (int*)(tile + sums);
            Vector256<int> i0 = Vector256.Create(-8 * sum[0]), i1 = Vector256.Create(-8 * sum[1]);
            Vector256<int> i2 = Vector256.Create(-8 * sum[2]), i3 = Vector256.Create(-8 * sum[3]);
            byte* w = panel + PackedPanel.ScaleBytes;
            Q4ChunkVnni(w, tile, 0, mask, ref i0, ref i1, ref i2, ref i3);
            Q4ChunkVnni(w, tile, 1, mask, ref i0, ref i1, ref i2, ref i3);
            Q4ChunkVnni(w, tile, 2, mask, ref i0, ref i1, ref i2, ref i3);
            Q4ChunkVnni(w, tile, 3, mask, ref i0, ref i1, ref i2, ref i3);
            var d = Avx.LoadVector256((float*)panel);
            float* s = (float*)(tile + scales);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), Avx.Multiply(d, Vector256.Create(s[0])), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), Avx.Multiply(d, Vector256.Create(s[1])), acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2), Avx.Multiply(d, Vector256.Create(s[2])), acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3), Avx.Multiply(d, Vector256.Create(s[3])), acc3);
        }
        Store(y, ldy, rows, cols, accumulate, acc0, acc1, acc2, acc3);
    }

    // Packed chunk c, as in Q4Chunk, added into int32 lanes with vpdpbusd.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4ChunkVnni(byte* w, byte* tile, int c, Vector256<byte> mask,
        ref Vector256<int> i0, ref Vector256<int> i1, ref Vector256<int> i2, ref Vector256<int> i3)
    {
        var packed = Avx.LoadVector256(w + 32 * c);
        var low = Avx2.And(packed, mask);
        var high = Avx2.And(Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), mask);
        i0 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(i0, low, X(tile + 4 * c)), high, X(tile + 16 + 4 * c));
        i1 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(i1, low, X(tile + 32 + 4 * c)), high, X(tile + 48 + 4 * c));
        i2 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(i2, low, X(tile + 64 + 4 * c)), high, X(tile + 80 + 4 * c));
        i3 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(i3, low, X(tile + 96 + 4 * c)), high, X(tile + 112 + 4 * c));

        static Vector256<sbyte> X(byte* x) => Vector256.Create(*(int*)x).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, int ldy, int rows, int cols, bool accumulate,
        Vector256<float> acc0, Vector256<float> acc1, Vector256<float> acc2, Vector256<float> acc3)
    {
        if (cols == PackedPanel.Rows)
        {
            StoreRow(y, acc0, accumulate);
            if (rows > 1) StoreRow(y + ldy, acc1, accumulate);
            if (rows > 2) StoreRow(y + 2L * ldy, acc2, accumulate);
            if (rows > 3) StoreRow(y + 3L * ldy, acc3, accumulate);
            return;
        }
        float* tile = stackalloc float[QuantizedActivations.TileRows * PackedPanel.Rows];
        Avx.Store(tile, acc0);
        Avx.Store(tile + 8, acc1);
        Avx.Store(tile + 16, acc2);
        Avx.Store(tile + 24, acc3);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                float* dst = y + (long)i * ldy + j;
                *dst = accumulate ? *dst + tile[i * 8 + j] : tile[i * 8 + j];
            }

        static void StoreRow(float* dst, Vector256<float> v, bool accumulate) =>
            Avx.Store(dst, accumulate ? Avx.Add(Avx.LoadVector256(dst), v) : v);
    }
}
