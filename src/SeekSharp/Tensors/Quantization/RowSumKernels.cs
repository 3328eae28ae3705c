using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// The untransposed product y[m, Cols] (+)= x[m, r] · W[r rows, :]: each output row is a weighted sum of W's rows
/// (MLA's absorbed attention multiplies by blocks of kv_b_proj this way). The blocks run along y's columns here, so
/// there is no integer dot product to take: each stored block is widened to float once and added, times x[i, r]·d,
/// into every output row, and x stays exact.
/// </summary>
internal static unsafe class RowSumKernels
{
    /// <summary>Columns per parallel work item: 4 blocks.</summary>
    public const int BlocksPerItem = 4;

    /// <summary>
    /// y[i, c] (+)= Σ_r x[i, r]·W[row0 + r, c] for c in the blocks [b0, b0 + blockCount) (clipped to Cols), i &lt; m,
    /// r &lt; rows. Each block's levels are widened once per weight row and shared by all m output rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<T>(QuantizedMatrix w, int row0, int rows, int b0, int blockCount, int m, float* x, int ldx,
        float* y, int ldy, bool accumulate) where T : IQuantFormat
    {
        int c0 = b0 * QuantFormat.BlockSize, width = Math.Min(blockCount * QuantFormat.BlockSize, w.Cols - c0);
        if (!accumulate)
            for (int i = 0; i < m; i++) new Span<float>(y + (long)i * ldy + c0, width).Clear();
        float* f16 = HalfScale.Table;
        float* levels = stackalloc float[QuantFormat.BlockSize];
        for (int r = 0; r < rows; r++)
        {
            byte* block = w.RowPointer(row0 + r) + (long)b0 * T.BlockBytes;
            for (int b = 0, c = c0; b < blockCount && c < w.Cols; b++, c += QuantFormat.BlockSize, block += T.BlockBytes)
            {
                Widen(T.LoadLevels(block), levels);
                float d = f16[*(ushort*)block];
                int n = Math.Min(QuantFormat.BlockSize, w.Cols - c);
                for (int i = 0; i < m; i++)
                {
                    float a = x[(long)i * ldx + r] * d;
                    float* dst = y + (long)i * ldy + c;
                    if (n == QuantFormat.BlockSize) AddScaled(dst, levels, a);
                    else for (int k = 0; k < n; k++) dst[k] += a * levels[k];
                }
            }
        }
    }

    // 32 signed bytes → 32 floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(Vector256<sbyte> v, float* dst)
    {
        var low = v.GetLower();
        var high = v.GetUpper();
        Avx.Store(dst, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(low)));
        Avx.Store(dst + 8, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(low, 8))));
        Avx.Store(dst + 16, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(high)));
        Avx.Store(dst + 24, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(high, 8))));
    }

    // dst[0..32) += a · levels[0..32)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddScaled(float* dst, float* levels, float a)
    {
        var va = Vector256.Create(a);
        for (int k = 0; k < QuantFormat.BlockSize; k += 8)
            Avx.Store(dst + k, Fma.MultiplyAdd(va, Avx.LoadVector256(levels + k), Avx.LoadVector256(dst + k)));
    }
}
