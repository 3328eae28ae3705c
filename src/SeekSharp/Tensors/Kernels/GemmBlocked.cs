namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// The cache-blocked GEMM driver (the Goto/BLIS loop nest) around one register tile <typeparamref name="TKernel"/>.
/// </summary>
/// <remarks>
/// <para>Loops, outermost first: n in blocks of <see cref="Gemm.NC"/> columns; k in blocks of <see cref="Gemm.KC"/>
/// (B's block, KC × NC, is packed once into NR-wide panels, in parallel; it lives in L3); m in blocks of about MC
/// rows (each packed into MR-high panels that stay in L2); then, for each B panel (KC × NR, kept in L1 while it is
/// used), every A panel of the block against it through the register tile. The k-blocks are summed in a fixed order,
/// so the result does not depend on the number of threads.</para>
/// <para>Work is shared two ways. When there are at least two m-blocks per thread, a work item is one m-block: it
/// packs its own A and sweeps all of B ("rows"). Otherwise (short problems) A is packed up front and an item is an
/// m-block against a group of B panels ("tiles"). The m-blocks hold equal numbers of MR-panels (±1), so that no
/// thread waits long for another's last block.</para>
/// </remarks>
internal sealed unsafe class BlockedGemm<TKernel> : ParallelWork where TKernel : struct, IGemmKernel
{
    private const int PanelsPerItem = 8;     // NR-panels of B per "tiles" work item

    private enum Phase { PackA, PackB, ComputeRows, ComputeTiles }
    private Phase _phase;
    private int _m, _n, _k, _lda, _ldb, _ldc, _pc, _kc, _jc, _nc, _nIc, _mPanels, _nPanelsB, _nGroups;
    private float* _a, _c;
    private void* _b;
    private bool _transA, _transB, _overwrite;
    private ElementType _bType;
    private float* _packA, _packB;
    private float[]? _packABuffer, _packBBuffer;   // pinned, reused from call to call

    private static int MR => TKernel.MR;
    private static int NR => TKernel.NR;
    private static int KC => Gemm.KC;

    public void Run(WorkerPool pool, int m, int n, int k,
        float* a, int lda, bool transA, void* b, int ldb, bool transB, ElementType bType, float* c, int ldc, bool accumulate)
    {
        (_m, _n, _k, _lda, _transA, _ldb, _transB, _bType, _ldc) = (m, n, k, lda, transA, ldb, transB, bType, ldc);
        _a = a; _b = b; _c = c;
        _mPanels = (m + MR - 1) / MR;
        _nIc = (m + TKernel.MC - 1) / TKernel.MC;
        bool byRows = _nIc >= 2 * pool.ThreadCount;
        if (byRows) _nIc = (_nIc + pool.ThreadCount - 1) / pool.ThreadCount * pool.ThreadCount;
        _packA = byRows ? null : Gemm.Align(ref _packABuffer, _mPanels * MR * KC);
        _packB = Gemm.Align(ref _packBBuffer, Math.Min((n + NR - 1) / NR * NR, Gemm.NC) * KC);
        for (int jc = 0; jc < n; jc += Gemm.NC)
        {
            _jc = jc;
            _nc = Math.Min(Gemm.NC, n - jc);
            _nPanelsB = (_nc + NR - 1) / NR;
            _nGroups = (_nPanelsB + PanelsPerItem - 1) / PanelsPerItem;
            for (int pc = 0; pc < k; pc += KC)
            {
                _pc = pc;
                _kc = Math.Min(KC, k - pc);
                _overwrite = pc == 0 && !accumulate;
                _phase = Phase.PackB; pool.For(_nPanelsB, this);
                if (byRows)
                {
                    _phase = Phase.ComputeRows; pool.For(_nIc, this);
                }
                else
                {
                    _phase = Phase.PackA; pool.For(_mPanels, this);
                    _phase = Phase.ComputeTiles; pool.For(_nIc * _nGroups, this);
                }
            }
        }
        _a = _c = _packA = _packB = null; _b = null;
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

    // m-block ic covers A panels [FirstPanel(ic), FirstPanel(ic + 1)).
    private int FirstPanel(int ic) => (int)((long)ic * _mPanels / _nIc);

    [ThreadStatic] private static float[]? t_blockA;

    private void ComputeRows(int ic)
    {
        int p0 = FirstPanel(ic), p1 = FirstPanel(ic + 1);
        if (p0 == p1) return;
        float* blockA = Gemm.Align(ref t_blockA, (p1 - p0) * MR * KC);
        for (int p = p0; p < p1; p++) PackAPanel(p, blockA + (long)(p - p0) * MR * KC);
        Compute(p0, p1, blockA, 0, _nPanelsB);
    }

    private void ComputeTiles(int index)
    {
        int ic = index % _nIc, group = index / _nIc;
        int p0 = FirstPanel(ic), p1 = FirstPanel(ic + 1);
        if (p0 == p1) return;
        int q0 = group * PanelsPerItem;
        Compute(p0, p1, _packA + (long)p0 * MR * KC, q0, Math.Min(_nPanelsB, q0 + PanelsPerItem));
    }

    private void PackAPanel(int panel, float* dst)
    {
        int r0 = panel * MR;
        GemmPacking.PackA<TKernel>(_a, _lda, _transA, r0, Math.Min(MR, _m - r0), _pc, _kc, dst);
    }

    private void PackBPanel(int panel)
    {
        int j0 = _jc + panel * NR;
        GemmPacking.PackB<TKernel>(_b, _bType, _ldb, _transB, j0, Math.Min(NR, _jc + _nc - j0), _pc, _kc,
            _packB + (long)panel * NR * KC);
    }

    // A panels [p0, p1) (packed at blockA) against B panels [q0, q1): B panel outer, so it stays in L1.
    private void Compute(int p0, int p1, float* blockA, int q0, int q1)
    {
        float* tile = stackalloc float[MR * NR];
        for (int q = q0; q < q1; q++)
        {
            int j = _jc + q * NR, nr = Math.Min(NR, _n - j);
            float* bp = _packB + (long)q * NR * KC;
            for (int p = p0; p < p1; p++)
            {
                int i = p * MR, mr = Math.Min(MR, _m - i);
                float* ap = blockA + (long)(p - p0) * MR * KC;
                float* cp = _c + (long)i * _ldc + j;
                if (mr == MR && nr == NR)
                    TKernel.Run(_kc, ap, bp, cp, _ldc, !_overwrite);
                else
                {
                    TKernel.Run(_kc, ap, bp, tile, NR, false);
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
