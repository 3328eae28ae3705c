using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// Single-precision matrix multiply C[m,n] = op(A)[m,k] · op(B)[k,n] (+ C when accumulating), blocked for the
/// caches and spread over a <see cref="WorkerPool"/>.
/// </summary>
/// <remarks>
/// The structure is the classic Goto/BLIS one: for each k-block of <see cref="KC"/> and n-block of <see cref="NC"/>,
/// B is packed into column panels of <see cref="NR"/> and A into row panels of <see cref="MR"/>, then a 6×16 register
/// micro-kernel (12 ymm accumulators, FMA) sweeps the tiles. Packing also handles the transposes and widens BF16/F16
/// weights, so the kernel only ever sees contiguous float32. The k-blocks are summed in a fixed order, so the result
/// does not depend on the number of threads.
/// <para>A is float32; B may be float32, BF16 or F16 (weights stored at half size). Matrices are row-major with
/// leading dimensions; <c>transA</c> means A is stored [k, m], <c>transB</c> means B is stored [n, k] (the
/// <c>nn.Linear</c> weight layout: y = x·Wᵀ is <c>transB = true</c>).</para>
/// <para>Very short left-hand sides (m ≤ 4, transB) take a dot-product path that streams each weight row once:
/// decoding is memory-bound, and packing would read the weights twice.</para>
/// </remarks>
public static unsafe class Gemm
{
    public const int MR = 6, NR = 16, KC = 256, MC = 120, NC = 4096;
    private const int PanelsPerItem = 8;     // NR-panels of B per compute work item
    private const int SkinnyMaxM = 4;

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
        Span<float> c, int ldc, bool accumulate = false)
    {
        Validate(m, n, k, a.Length, lda, transA, b.Length, ldb, transB, c.Length, ldc);
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            MultiplyCore(pool, m, n, k, pa, lda, transA, pb, ldb, transB, ElementType.F32, pc, ldc, accumulate);
    }

    /// <summary>C = op(A)·op(B) (+ C) with B stored as BF16 or F16.</summary>
    public static void Multiply(WorkerPool pool, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<ushort> b, ElementType bType, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate = false)
    {
        if (bType == ElementType.F32) throw new ArgumentException("Use the float overload for F32 B.", nameof(bType));
        Validate(m, n, k, a.Length, lda, transA, b.Length, ldb, transB, c.Length, ldc);
        fixed (float* pa = a) fixed (ushort* pb = b) fixed (float* pc = c)
            MultiplyCore(pool, m, n, k, pa, lda, transA, pb, ldb, transB, bType, pc, ldc, accumulate);
    }

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

    internal static void MultiplyCore(WorkerPool pool, int m, int n, int k,
        float* a, int lda, bool transA, void* b, int ldb, bool transB, ElementType bType,
        float* c, int ldc, bool accumulate)
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
        ctx.Blocked.Run(pool, ctx, m, n, k, a, lda, transA, b, ldb, transB, bType, c, ldc, accumulate);
    }

    // ---------------------------------------------------------------- blocked path

    private sealed class BlockedGemm : ParallelWork
    {
        // Rows: each work item is an m-block that packs its own A and sweeps every B panel (tall problems).
        // Tiles: A is packed up front and items are (m-block, group of B panels) (short problems, e.g. one m-block).
        private enum Phase { PackA, PackB, ComputeRows, ComputeTiles }
        private Phase _phase;
        private int _m, _n, _k, _lda, _ldb, _ldc, _pc, _kc, _jc, _nc, _mcEff, _nIc, _nPanelsB, _nGroups;
        private float* _a, _c;
        private void* _b;
        private bool _transA, _transB, _overwrite, _byRows;
        private ElementType _bType;
        private float* _packA, _packB;

        public void Run(WorkerPool pool, GemmContext ctx, int m, int n, int k, float* a, int lda, bool transA,
            void* b, int ldb, bool transB, ElementType bType, float* c, int ldc, bool accumulate)
        {
            (_m, _n, _k, _lda, _transA, _ldb, _transB, _bType, _ldc) = (m, n, k, lda, transA, ldb, transB, bType, ldc);
            _a = a; _b = b; _c = c;
            // Split m into equal blocks of at most MC rows, as many as a multiple of the thread count when there
            // are enough rows, so that no thread waits for another's last block.
            _nIc = (m + MC - 1) / MC;
            _byRows = _nIc >= 2 * pool.ThreadCount;
            if (_byRows) _nIc = RoundUp(_nIc, pool.ThreadCount);
            _mcEff = RoundUp((m + _nIc - 1) / _nIc, MR);
            int mPanels = (m + MR - 1) / MR;
            _packA = _byRows ? null : ctx.PackA(mPanels * MR * KC);
            _packB = ctx.PackB(Math.Min(RoundUp(n, NR), NC) * KC);
            for (int jc = 0; jc < n; jc += NC)
            {
                _jc = jc;
                _nc = Math.Min(NC, n - jc);
                _nPanelsB = (_nc + NR - 1) / NR;
                _nGroups = (_nPanelsB + PanelsPerItem - 1) / PanelsPerItem;
                for (int pc = 0; pc < k; pc += KC)
                {
                    _pc = pc;
                    _kc = Math.Min(KC, k - pc);
                    _overwrite = pc == 0 && !accumulate;
                    _phase = Phase.PackB; pool.For(_nPanelsB, this);
                    if (_byRows)
                    {
                        _phase = Phase.ComputeRows; pool.For(_nIc, this);
                    }
                    else
                    {
                        _phase = Phase.PackA; pool.For(mPanels, this);
                        _phase = Phase.ComputeTiles; pool.For(_nIc * _nGroups, this);
                    }
                }
            }
            _a = _c = null; _b = null;
        }

        public override void Execute(int index)
        {
            switch (_phase)
            {
                case Phase.PackA: PackAPanel(index, _packA + (long)index * MR * KC); break;
                case Phase.PackB: PackBPanel(index); break;
                case Phase.ComputeRows: ComputeRows(index); break;
                default: ComputeTiles(index); break;
            }
        }

        [ThreadStatic] private static float[]? t_blockA;

        private void ComputeRows(int ic)
        {
            int i0 = ic * _mcEff;
            if (i0 >= _m) return;
            int mc = Math.Min(_mcEff, _m - i0);
            float* blockA = GemmContext.Align(ref t_blockA, _mcEff * KC);
            for (int ir = 0; ir < mc; ir += MR)
                PackAPanel((i0 + ir) / MR, blockA + (long)ir * KC);
            Compute(i0, mc, blockA, 0, _nPanelsB);
        }

        private void ComputeTiles(int index)
        {
            int ic = index % _nIc, group = index / _nIc;
            int i0 = ic * _mcEff;
            if (i0 >= _m) return;
            int q0 = group * PanelsPerItem;
            Compute(i0, Math.Min(_mcEff, _m - i0), _packA + (long)(i0 / MR) * MR * KC, q0, Math.Min(_nPanelsB, q0 + PanelsPerItem));
        }

        // Ap panel p: [kc][MR], rows p*MR.., zero-padded past m.
        private void PackAPanel(int panel, float* dst)
        {
            int r0 = panel * MR, rows = Math.Min(MR, _m - r0), kc = _kc;
            if (!_transA)
            {
                for (int r = 0; r < MR; r++)
                {
                    if (r >= rows) { for (int p = 0; p < kc; p++) dst[p * MR + r] = 0; continue; }
                    float* src = _a + (long)(r0 + r) * _lda + _pc;
                    for (int p = 0; p < kc; p++) dst[p * MR + r] = src[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = _a + (long)(_pc + p) * _lda + r0;
                    float* d = dst + p * MR;
                    int r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < MR; r++) d[r] = 0;
                }
            }
        }

        // Bp panel q: [kc][NR], columns jc + q*NR.., zero-padded past n.
        private void PackBPanel(int panel)
        {
            float* dst = _packB + (long)panel * NR * KC;
            int j0 = _jc + panel * NR, cols = Math.Min(NR, _jc + _nc - j0), kc = _kc;
            if (_transB)
            {
                // B stored [n, k]: each output column is a contiguous source row; transpose 8×8 tiles.
                int p = 0;
                if (cols == NR)
                    for (; p + 8 <= kc; p += 8)
                    {
                        Transpose8x8(j0, _pc + p, dst + p * NR);
                        Transpose8x8(j0 + 8, _pc + p, dst + p * NR + 8);
                    }
                if (p < kc)
                {
                    float* row = stackalloc float[KC];
                    for (int j = 0; j < NR; j++)
                    {
                        if (j >= cols) { for (int q = p; q < kc; q++) dst[q * NR + j] = 0; continue; }
                        float* src = SourceRowAt(j0 + j, _pc + p, kc - p, row);
                        for (int q = p; q < kc; q++) dst[q * NR + j] = src[q - p];
                    }
                }
            }
            else
            {
                float* row = stackalloc float[NR];
                for (int p = 0; p < kc; p++)
                {
                    float* d = dst + p * NR;
                    if (cols == NR && _bType == ElementType.F32)
                    {
                        float* src = (float*)_b + (long)(_pc + p) * _ldb + j0;
                        Avx.Store(d, Avx.LoadVector256(src));
                        Avx.Store(d + 8, Avx.LoadVector256(src + 8));
                        continue;
                    }
                    float* s = SourceRowAt(_pc + p, j0, cols, row);
                    int j = 0;
                    for (; j < cols; j++) d[j] = s[j];
                    for (; j < NR; j++) d[j] = 0;
                }
            }
        }

        // Stored rows j..j+7, columns p..p+7 → dst[q*NR + r] = B[j+r][p+q].
        private void Transpose8x8(int j, int p, float* dst) =>
            Kernels.Transpose8x8.Store(Load(j, p), Load(j + 1, p), Load(j + 2, p), Load(j + 3, p),
                Load(j + 4, p), Load(j + 5, p), Load(j + 6, p), Load(j + 7, p), dst, NR);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector256<float> Load(int row, int col) => _bType switch
        {
            ElementType.F32 => Avx.LoadVector256((float*)_b + (long)row * _ldb + col),
            ElementType.BF16 => HalfConversion.LoadBf16x8((ushort*)_b + (long)row * _ldb + col),
            _ => HalfConversion.LoadF16x8((ushort*)_b + (long)row * _ldb + col),
        };

        // Row `r` of the stored B, elements [c0, c0+count), as float32 (widened into `scratch` when 16-bit).
        private float* SourceRowAt(int r, int c0, int count, float* scratch)
        {
            if (_bType == ElementType.F32) return (float*)_b + (long)r * _ldb + c0;
            HalfConversion.ToSingle(_bType, (ushort*)_b + (long)r * _ldb + c0, scratch, count);
            return scratch;
        }

        // Rows [i0, i0+mc) against B panels [q0, q1); blockA holds the packed A panels of those rows.
        private void Compute(int i0, int mc, float* blockA, int q0, int q1)
        {
            float* tile = stackalloc float[MR * NR];
            for (int q = q0; q < q1; q++)
            {
                int j = _jc + q * NR, nr = Math.Min(NR, _n - j);
                float* bp = _packB + (long)q * NR * KC;
                for (int ir = 0; ir < mc; ir += MR)
                {
                    int i = i0 + ir, mr = Math.Min(MR, _m - i);
                    float* ap = blockA + (long)ir * KC;
                    float* cp = _c + (long)i * _ldc + j;
                    if (mr == MR && nr == NR)
                        Kernel6x16(_kc, ap, bp, cp, _ldc, !_overwrite);
                    else
                    {
                        Kernel6x16(_kc, ap, bp, tile, NR, false);
                        for (int r = 0; r < mr; r++)
                            for (int cc = 0; cc < nr; cc++)
                            {
                                float v = tile[r * NR + cc];
                                cp[(long)r * _ldc + cc] = _overwrite ? v : cp[(long)r * _ldc + cc] + v;
                            }
                    }
                }
            }
        }
    }

    /// <summary>The 6×16 register tile: C[0..6, 0..16] (+)= Ap[kc, 6]ᵀ · Bp[kc, 16].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* ap, float* bp, float* c, int ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadVector256(bp);
            var b1 = Avx.LoadVector256(bp + 8);
            var a = Avx.BroadcastScalarToVector256(ap);
            c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Avx.BroadcastScalarToVector256(ap + 1);
            c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Avx.BroadcastScalarToVector256(ap + 2);
            c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Avx.BroadcastScalarToVector256(ap + 3);
            c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Avx.BroadcastScalarToVector256(ap + 4);
            c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Avx.BroadcastScalarToVector256(ap + 5);
            c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            ap += MR;
            bp += NR;
        }
        Store(c, c00, c01, add); c += ldc;
        Store(c, c10, c11, add); c += ldc;
        Store(c, c20, c21, add); c += ldc;
        Store(c, c30, c31, add); c += ldc;
        Store(c, c40, c41, add); c += ldc;
        Store(c, c50, c51, add);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Store(float* dst, Vector256<float> lo, Vector256<float> hi, bool add)
        {
            if (add)
            {
                lo = Avx.Add(lo, Avx.LoadVector256(dst));
                hi = Avx.Add(hi, Avx.LoadVector256(dst + 8));
            }
            Avx.Store(dst, lo);
            Avx.Store(dst + 8, hi);
        }
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

        public readonly BlockedGemm Blocked = new();
        public readonly SkinnyGemm Skinny = new();
        public readonly SkinnyRowsGemm SkinnyRows = new();
        private float[] _packA = Array.Empty<float>(), _packB = Array.Empty<float>();

        public float* PackA(int floats) => Pinned(ref _packA, floats);
        public float* PackB(int floats) => Pinned(ref _packB, floats);

        private static float* Pinned(ref float[] buffer, int floats)
        {
            float[]? b = buffer;
            var p = Align(ref b, floats);
            buffer = b!;
            return p;
        }

        // Pinned arrays (never moved), over-allocated so the returned pointer is 64-byte aligned.
        public static float* Align(ref float[]? buffer, int floats)
        {
            if (buffer is null || buffer.Length < floats + 16) buffer = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
            var p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            return (float*)(((nint)p + 63) & ~(nint)63);
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

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
