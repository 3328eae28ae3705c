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
/// <c>q = round(x·127/amax)</c> half to even, in [−127, 127], |q| (the unsigned operand of Q8_0's dot product) and
/// Σq (for Q4_0's −8 offset). A row is padded with zero codes to whole blocks, so padded weight columns meet zeros.
/// Each code is off by at most s/2, so a dot product gains an error of RMS ≈ s/√12·‖w‖: measured on y = x·Wᵀ, 0.5% of
/// the output's RMS for Gaussian activations and 1.1% when 1% of the channels are 20× larger (an outlier sets its
/// block's step); see docs/quantization.md.</para>
/// <para>Special blocks: amax below <see cref="FlushBelow"/> (or exactly zero) gives s = 0 and zero codes, so the
/// block contributes exactly 0 (127/amax would overflow); a NaN or infinity gives s = NaN, so every output that uses
/// the block is NaN, as a float product would be (at least not a silent finite number).</para>
/// <para>Two layouts, one per kernel family. <see cref="ActivationLayout.Rows"/>: codes [m, blocks·32], |codes|
/// likewise, scales and sums [m, blocks] (the row-dot kernels walk one row). <see cref="ActivationLayout.Tiles"/>: rows
/// grouped by <see cref="TileRows"/>, and per tile and block one record of <see cref="TileBlockBytes"/>: the 4 rows'
/// codes [4][32], (|codes| [4][32] if asked for,) scales [4], sums [4]; the panel kernels walk one pointer. Rows
/// missing from the last tile are zero blocks. |codes| are needed only by the Q8_0 row kernels.</para>
/// <para>The AVX2 path and <see cref="QuantizeRowScalar"/> (the reference) produce identical bits: both compute
/// x·(127/amax) in float32 and round half to even.</para>
/// </remarks>
internal sealed unsafe class QuantizedActivations
{
    public const float FlushBelow = 1e-30f;
    public const int TileRows = 4;
    private const int BlockSize = QuantFormat.BlockSize;

    private byte[] _buffer = [];
    private byte* _base;
    private long _absOffset, _scaleOffset, _sumOffset;

    public int Rows { get; private set; }
    public int BlocksPerRow { get; private set; }
    public ActivationLayout Layout { get; private set; }
    public bool HasAbsCodes { get; private set; }

    /// <summary>Tiles layout: bytes of one tile's record for one block (codes, |codes| if any, scales, sums).</summary>
    public int TileBlockBytes { get; private set; }

    // Rows layout.
    public sbyte* RowCodes(int row) => (sbyte*)_base + (long)row * BlocksPerRow * BlockSize;
    public byte* RowAbsCodes(int row) => _base + _absOffset + (long)row * BlocksPerRow * BlockSize;
    public float* RowScales(int row) => (float*)(_base + _scaleOffset) + (long)row * BlocksPerRow;
    public int* RowSums(int row) => (int*)(_base + _sumOffset) + (long)row * BlocksPerRow;

    // Tiles layout: offsets inside one tile record.
    public int TileAbsOffset => TileRows * BlockSize;
    public int TileScaleOffset => (HasAbsCodes ? 2 : 1) * TileRows * BlockSize;
    public int TileSumOffset => TileScaleOffset + TileRows * sizeof(float);
    public byte* Tile(int tile) => _base + (long)tile * BlocksPerRow * TileBlockBytes;

    /// <summary>Sizes the buffer for m rows of <paramref name="cols"/> in <paramref name="layout"/> (growing it if needed).</summary>
    public void Prepare(int m, int cols, ActivationLayout layout, bool absCodes)
    {
        (Rows, Layout, HasAbsCodes) = (m, layout, absCodes);
        BlocksPerRow = QuantFormat.BlocksPerRow(cols);
        TileBlockBytes = (absCodes ? 2 : 1) * TileRows * BlockSize + 2 * TileRows * sizeof(int);
        int paddedRows = layout == ActivationLayout.Tiles ? (m + TileRows - 1) / TileRows * TileRows : m;
        long blocks = (long)paddedRows * BlocksPerRow;
        long codeBytes = blocks * BlockSize;
        _absOffset = codeBytes;
        _scaleOffset = codeBytes * (absCodes ? 2 : 1);
        _sumOffset = _scaleOffset + blocks * sizeof(float);
        long bytes = _sumOffset + blocks * sizeof(int) + 64;
        if (bytes > Array.MaxLength) throw new ArgumentException($"{m} activation rows of {cols} are too many for one call; split the rows.");
        if (_buffer.Length < bytes) _buffer = GC.AllocateUninitializedArray<byte>((int)Math.Max(bytes, Math.Min(Array.MaxLength, 2L * _buffer.Length)), pinned: true);
        var start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buffer));
        _base = (byte*)(((nint)start + 63) & ~(nint)63);
        if (layout == ActivationLayout.Tiles && paddedRows > m)
        {
            // The rows that pad the last tile: zero codes, zero scales, zero sums.
            int lastTile = m / TileRows;
            new Span<byte>(Tile(lastTile), BlocksPerRow * TileBlockBytes).Clear();
        }
    }

    /// <summary>Quantises row <paramref name="row"/> from <paramref name="x"/> (cols floats) into the prepared layout.</summary>
    public void QuantizeRow(int row, float* x, int cols)
    {
        int full = cols / BlockSize;
        Span<float> padded = stackalloc float[BlockSize];
        for (int b = 0; b < BlocksPerRow; b++)
        {
            var slot = Block(row, b);
            sbyte* codes = slot.Codes;
            if (b < full && Avx2.IsSupported) QuantizeBlockAvx2(x + b * BlockSize, codes, out *slot.Scale, out *slot.Sum);
            else
            {
                // The partial last block, zero-padded (or every block without AVX2).
                padded.Clear();
                int n = Math.Min(BlockSize, cols - b * BlockSize);
                new ReadOnlySpan<float>(x + b * BlockSize, n).CopyTo(padded);
                QuantizeBlockScalar(padded, new Span<sbyte>(codes, BlockSize), out *slot.Scale, out *slot.Sum);
            }
            if (HasAbsCodes) StoreAbs(codes, slot.Abs);
        }
    }

    private readonly struct Slot(sbyte* codes, byte* abs, float* scale, int* sum)
    {
        public readonly sbyte* Codes = codes;
        public readonly byte* Abs = abs;
        public readonly float* Scale = scale;
        public readonly int* Sum = sum;
    }

    // Where block `block` of row `row` goes in the current layout.
    private Slot Block(int row, int block)
    {
        if (Layout == ActivationLayout.Rows)
        {
            long at = (long)row * BlocksPerRow + block;
            return new((sbyte*)_base + at * BlockSize, _base + _absOffset + at * BlockSize,
                (float*)(_base + _scaleOffset) + at, (int*)(_base + _sumOffset) + at);
        }
        int lane = row % TileRows;
        byte* record = Tile(row / TileRows) + (long)block * TileBlockBytes;
        return new((sbyte*)record + lane * BlockSize, record + TileAbsOffset + lane * BlockSize,
            (float*)(record + TileScaleOffset) + lane, (int*)(record + TileSumOffset) + lane);
    }

    private static void StoreAbs(sbyte* codes, byte* abs)
    {
        if (Avx2.IsSupported) Avx.Store(abs, Avx2.Abs(Avx.LoadVector256(codes)));
        else for (int i = 0; i < BlockSize; i++) abs[i] = (byte)Math.Abs(codes[i]);
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

/// <summary>How <see cref="QuantizedActivations"/> arranges its blocks: by row, or in tiles of 4 rows.</summary>
internal enum ActivationLayout { Rows, Tiles }
