using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Kernels;

/// <summary>Which register tile the blocked GEMM uses: the best this machine runs, or one forced (tests).</summary>
internal enum GemmPath { Auto, Vector256, Vector512 }

/// <summary>
/// Single-precision matrix multiply C[m,n] = op(A)[m,k] · op(B)[k,n] (+ C when accumulating), blocked for the
/// caches and spread over a <see cref="WorkerPool"/>.
/// </summary>
/// <remarks>
/// The structure is the classic Goto/BLIS one (<see cref="BlockedGemm{TKernel}"/>): in k-blocks of <see cref="KC"/>,
/// B is packed into column panels and A into row panels (<see cref="GemmPacking"/>),
/// then a register tile sweeps them: 12×32 with 512-bit FMAs where the machine has them (<see cref="GemmKernel12x32"/>),
/// else 6×16 with 256-bit FMAs (<see cref="GemmKernel6x16"/>). Packing also handles the transposes and widens
/// BF16/F16 weights, so the tiles only ever see contiguous float32. The k-blocks are summed in a fixed order, so the
/// result does not depend on the number of threads.
/// <para>A is float32; B may be float32, BF16 or F16 (weights stored at half size). Matrices are row-major with
/// leading dimensions; <c>transA</c> means A is stored [k, m], <c>transB</c> means B is stored [n, k] (the
/// <c>nn.Linear</c> weight layout: y = x·Wᵀ is <c>transB = true</c>).</para>
/// <para>Very short left-hand sides (m ≤ 4, transB) take a dot-product path that streams each weight row once:
/// decoding is memory-bound, and packing would read the weights twice.</para>
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>The k-block: packed panels hold KC values of the sum (see <see cref="BlockedGemm{TKernel}"/>).</summary>
    public const int KC = 256;

    private const int SkinnyMaxM = 4;

    /// <summary>Whether this machine runs the 512-bit register tile (<see cref="GemmKernel12x32"/>).</summary>
    internal static bool Vector512Available => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>
    /// c[m, n] (+)= a[m, k] · b[k, n] on strided views (a transposed operand is a view's <see cref="MatrixView.T"/>):
    /// the form the attention kernels use, <c>Multiply(pool, q, k.T, scores)</c>.
    /// </summary>
    public static void Multiply(WorkerPool pool, MatrixView a, MatrixView b, MatrixView c, bool accumulate = false)
    {
        if (c.Transposed) throw new ArgumentException("The result of a product must be an untransposed view.", nameof(c));
        if (a.Cols != b.Rows || a.Rows != c.Rows || b.Cols != c.Cols)
            throw new ArgumentException($"a {a} · b {b} → c {c} does not fit.");
        Multiply(pool, a.Rows, b.Cols, a.Cols, a.Storage, a.Ld, a.Transposed, b.Storage, b.Ld, b.Transposed, c.Storage, c.Ld, accumulate);
    }

    /// <summary>C = op(A)·op(B) (+ C) with float32 B.</summary>
    public static void Multiply(WorkerPool pool, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate = false) =>
        Multiply(GemmPath.Auto, pool, m, n, k, a, lda, transA, b, ldb, transB, c, ldc, accumulate);

    /// <summary>C = op(A)·op(B) (+ C) with B stored as BF16 or F16.</summary>
    public static void Multiply(WorkerPool pool, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<ushort> b, ElementType bType, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate = false) =>
        Multiply(GemmPath.Auto, pool, m, n, k, a, lda, transA, b, bType, ldb, transB, c, ldc, accumulate);

    private static void Validate(int m, int n, int k, int aLen, int lda, bool transA, int bLen, int ldb, bool transB, int cLen, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "Matrix sizes must be non-negative.");
        if (m == 0 || n == 0) return;
        Need("A", aLen, transA ? k : m, transA ? m : k, lda);
        Need("B", bLen, transB ? n : k, transB ? k : n, ldb);
        Need("C", cLen, m, n, ldc);

        static void Need(string name, int length, int rows, int cols, int ld)
        {
            if (rows == 0 || cols == 0) return;
            if (ld < cols) throw new ArgumentException($"Leading dimension of {name} ({ld}) is smaller than its row length ({cols}).");
            long needed = (long)(rows - 1) * ld + cols;
            if (length < needed) throw new ArgumentException($"{name} holds {length} elements but a [{rows}, {cols}] view with leading dimension {ld} needs {needed}.");
        }
    }

    /// <summary>The float32 product through a chosen register tile: tests reach the 256-bit path on an AVX-512 machine.</summary>
    internal static void Multiply(GemmPath path, WorkerPool pool, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate = false)
    {
        CheckPath(path);
        Validate(m, n, k, a.Length, lda, transA, b.Length, ldb, transB, c.Length, ldc);
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            MultiplyCore(pool, m, n, k, pa, lda, transA, pb, ldb, transB, ElementType.F32, pc, ldc, accumulate, path);
    }

    /// <summary>The product with BF16/F16 B through a chosen register tile.</summary>
    internal static void Multiply(GemmPath path, WorkerPool pool, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<ushort> b, ElementType bType, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate = false)
    {
        if (bType == ElementType.F32) throw new ArgumentException("Use the float overload for F32 B.", nameof(bType));
        CheckPath(path);
        Validate(m, n, k, a.Length, lda, transA, b.Length, ldb, transB, c.Length, ldc);
        fixed (float* pa = a) fixed (ushort* pb = b) fixed (float* pc = c)
            MultiplyCore(pool, m, n, k, pa, lda, transA, pb, ldb, transB, bType, pc, ldc, accumulate, path);
    }

    private static void CheckPath(GemmPath path)
    {
        if (path == GemmPath.Vector512 && !Vector512Available)
            throw new PlatformNotSupportedException("This machine has no 512-bit vectors for the 12×32 GEMM tile.");
    }

    internal static void MultiplyCore(WorkerPool pool, int m, int n, int k,
        float* a, int lda, bool transA, void* b, int ldb, bool transB, ElementType bType,
        float* c, int ldc, bool accumulate, GemmPath path = GemmPath.Auto)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }
        if (!Fma.IsSupported || !Avx2.IsSupported)
        {
            ScalarFallback(m, n, k, a, lda, transA, b, ldb, transB, bType, c, ldc, accumulate);
            return;
        }
        var ctx = GemmContext.ForThisThread();
        if (transB && m <= SkinnyMaxM)
        {
            ctx.Skinny.Run(pool, m, n, k, a, lda, transA, b, ldb, bType, c, ldc, accumulate);
            return;
        }
        if (!transB && m <= SkinnyMaxM)
        {
            ctx.SkinnyRows.Run(pool, m, n, k, a, lda, transA, b, ldb, bType, c, ldc, accumulate);
            return;
        }
        if (path == GemmPath.Vector512 || (path == GemmPath.Auto && Vector512Available))
            ctx.Blocked512.Run(pool, m, n, k, a, lda, transA, b, ldb, transB, bType, c, ldc, accumulate);
        else
            ctx.Blocked256.Run(pool, m, n, k, a, lda, transA, b, ldb, transB, bType, c, ldc, accumulate);
    }

    // ---------------------------------------------------------------- skinny path (m ≤ 4, B = Wᵀ)

    private sealed class SkinnyGemm : ParallelWork
    {
        private const int RowsPerItem = 16;
        private int _m, _n, _k, _lda, _ldb, _ldc;
        private float* _a, _c, _aPacked;
        private void* _b;
        private bool _accumulate;
        private ElementType _bType;
        private float[] _aBuffer = Array.Empty<float>();

        public void Run(WorkerPool pool, int m, int n, int k, float* a, int lda, bool transA,
            void* b, int ldb, ElementType bType, float* c, int ldc, bool accumulate)
        {
            // Gather the m rows of op(A) contiguously once; every weight row is then dotted with all of them.
            int need = m * k;
            if (_aBuffer.Length < need) _aBuffer = GC.AllocateUninitializedArray<float>(need, pinned: true);
            fixed (float* ap = _aBuffer)
            {
                for (int i = 0; i < m; i++)
                    for (int p = 0; p < k; p++)
                        ap[i * k + p] = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                (_m, _n, _k, _lda, _ldb, _bType, _ldc, _accumulate) = (m, n, k, lda, ldb, bType, ldc, accumulate);
                _a = a; _b = b; _c = c; _aPacked = ap;
                pool.For((n + RowsPerItem - 1) / RowsPerItem, this);
            }
            _a = _c = _aPacked = null; _b = null;
        }

        public override void Execute(int index)
        {
            int j0 = index * RowsPerItem, j1 = Math.Min(_n, j0 + RowsPerItem);
            Span<float> sums = stackalloc float[SkinnyMaxM];
            for (int j = j0; j < j1; j++)
            {
                switch (_bType)
                {
                    case ElementType.F32: DotRows(new F32Row((float*)_b + (long)j * _ldb), sums); break;
                    case ElementType.BF16: DotRows(new Bf16Row((ushort*)_b + (long)j * _ldb), sums); break;
                    default: DotRows(new F16Row((ushort*)_b + (long)j * _ldb), sums); break;
                }
                for (int i = 0; i < _m; i++)
                {
                    float* dst = _c + (long)i * _ldc + j;
                    *dst = _accumulate ? *dst + sums[i] : sums[i];
                }
            }
        }

        // Each weight row is dotted with the activation rows two at a time; the row type only decides how 8 weights
        // are widened to float32 (a struct type argument, so the JIT compiles one loop per storage type).
        private void DotRows<TRow>(TRow w, Span<float> sums) where TRow : struct, IWeightRow
        {
            int k = _k, m = _m;
            for (int i = 0; i < m; i += 2)
            {
                float* x0 = _aPacked + (long)i * k;
                float* x1 = i + 1 < m ? x0 + k : x0;
                Vector256<float> s0 = default, s1 = default, t0 = default, t1 = default;
                int p = 0;
                for (; p + 16 <= k; p += 16)
                {
                    var w0 = w.Load8(p);
                    var w1 = w.Load8(p + 8);
                    s0 = Fma.MultiplyAdd(w0, Avx.LoadVector256(x0 + p), s0);
                    s1 = Fma.MultiplyAdd(w1, Avx.LoadVector256(x0 + p + 8), s1);
                    t0 = Fma.MultiplyAdd(w0, Avx.LoadVector256(x1 + p), t0);
                    t1 = Fma.MultiplyAdd(w1, Avx.LoadVector256(x1 + p + 8), t1);
                }
                float a0 = Vector256.Sum(Avx.Add(s0, s1)), a1 = Vector256.Sum(Avx.Add(t0, t1));
                for (; p < k; p++)
                {
                    float wv = w.Load1(p);
                    a0 += wv * x0[p]; a1 += wv * x1[p];
                }
                sums[i] = a0;
                if (i + 1 < m) sums[i + 1] = a1;
            }
        }
    }

    /// <summary>One stored weight row, read as float32.</summary>
    private interface IWeightRow
    {
        Vector256<float> Load8(int p);
        float Load1(int p);
    }

    private readonly struct F32Row(float* w) : IWeightRow
    {
        public Vector256<float> Load8(int p) => Avx.LoadVector256(w + p);
        public float Load1(int p) => w[p];
    }

    private readonly struct Bf16Row(ushort* w) : IWeightRow
    {
        public Vector256<float> Load8(int p) => HalfConversion.LoadBf16x8(w + p);
        public float Load1(int p) => HalfConversion.Bf16ToSingle(w[p]);
    }

    private readonly struct F16Row(ushort* w) : IWeightRow
    {
        public Vector256<float> Load8(int p) => HalfConversion.LoadF16x8(w + p);
        public float Load1(int p) => HalfConversion.F16ToSingle(w[p]);
    }

    // ---------------------------------------------------------------- skinny path (m ≤ 4, B stored [k, n])

    /// <summary>C[i, :] (+)= Σ_p A[i, p]·B[p, :]: streams each row of B once, the C rows stay in L1.</summary>
    private sealed class SkinnyRowsGemm : ParallelWork
    {
        private const int ColsPerItem = 256;
        private int _m, _n, _k, _lda, _ldb, _ldc;
        private float* _a, _c;
        private void* _b;
        private bool _transA, _accumulate;
        private ElementType _bType;

        public void Run(WorkerPool pool, int m, int n, int k, float* a, int lda, bool transA,
            void* b, int ldb, ElementType bType, float* c, int ldc, bool accumulate)
        {
            (_m, _n, _k, _lda, _transA, _ldb, _bType, _ldc, _accumulate) = (m, n, k, lda, transA, ldb, bType, ldc, accumulate);
            _a = a; _b = b; _c = c;
            pool.For((n + ColsPerItem - 1) / ColsPerItem, this);
            _a = _c = null; _b = null;
        }

        public override void Execute(int index)
        {
            int j0 = index * ColsPerItem, cols = Math.Min(ColsPerItem, _n - j0);
            float* row = stackalloc float[ColsPerItem];
            for (int i = 0; i < _m; i++)
                if (!_accumulate) new Span<float>(_c + (long)i * _ldc + j0, cols).Clear();
            for (int p = 0; p < _k; p++)
            {
                float* bRow;
                if (_bType == ElementType.F32) bRow = (float*)_b + (long)p * _ldb + j0;
                else
                {
                    HalfConversion.ToSingle(_bType, (ushort*)_b + (long)p * _ldb + j0, row, cols);
                    bRow = row;
                }
                for (int i = 0; i < _m; i++)
                {
                    float av = _transA ? _a[(long)p * _lda + i] : _a[(long)i * _lda + p];
                    float* cRow = _c + (long)i * _ldc + j0;
                    var va = Vector256.Create(av);
                    int j = 0;
                    for (; j + 8 <= cols; j += 8)
                        Avx.Store(cRow + j, Fma.MultiplyAdd(va, Avx.LoadVector256(bRow + j), Avx.LoadVector256(cRow + j)));
                    for (; j < cols; j++) cRow[j] += av * bRow[j];
                }
            }
        }
    }

    // ---------------------------------------------------------------- per-thread scratch

    private sealed class GemmContext
    {
        [ThreadStatic] private static GemmContext? t_context;
        public static GemmContext ForThisThread() => t_context ??= new GemmContext();

        public readonly BlockedGemm<GemmKernel6x16> Blocked256 = new();
        public readonly BlockedGemm<GemmKernel12x32> Blocked512 = new();
        public readonly SkinnyGemm Skinny = new();
        public readonly SkinnyRowsGemm SkinnyRows = new();
    }

    /// <summary>A pinned array (never moved) of at least <paramref name="floats"/> floats, returned 64-byte aligned.</summary>
    internal static float* Align(ref float[]? buffer, int floats)
    {
        if (buffer is null || buffer.Length < floats + 16) buffer = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
        var p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)(((nint)p + 63) & ~(nint)63);
    }

    private static void ScalarFallback(int m, int n, int k, float* a, int lda, bool transA, void* b, int ldb, bool transB,
        ElementType bType, float* c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = accumulate ? c[(long)i * ldc + j] : 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                    long bi = transB ? (long)j * ldb + p : (long)p * ldb + j;
                    float bv = bType switch
                    {
                        ElementType.F32 => ((float*)b)[bi],
                        ElementType.BF16 => HalfConversion.Bf16ToSingle(((ushort*)b)[bi]),
                        _ => HalfConversion.F16ToSingle(((ushort*)b)[bi]),
                    };
                    sum += av * bv;
                }
                c[(long)i * ldc + j] = sum;
            }
    }
}
