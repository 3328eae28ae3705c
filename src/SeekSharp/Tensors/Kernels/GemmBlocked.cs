namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// The cache-blocked GEMM driver (the Goto/BLIS loop nest) around one register tile <typeparamref name="TKernel"/>.
/// </summary>
/// <remarks>
/// <para>B is packed whole (all its k-blocks of <see cref="Gemm.KC"/>) into NR-wide panels, in parallel, as long as that
/// stays under <see cref="PackedBFloats"/>; wider B is taken in n-blocks that fit. Then each work item is an m-block of
/// about MC rows against a group of B panels, and runs the k-blocks in order: it packs its A block (MC × KC, into L2),
/// then for each B panel (KC × NR, kept in L1 while it is used) runs every MR-high A panel of the block through the
/// register tile. So there are two synchronisations per n-block (packing, computing) rather than two per k-block, and
/// the item's block of C stays in cache from one k-block to the next. Each element's k-blocks are summed in a fixed
/// order, so the result does not depend on the number of threads.</para>
/// <para>Tall problems (at least two m-blocks per thread) give each item about <see cref="RowsGroupColumns"/> columns
/// of C; short ones, with few m-blocks, pack A up front as well (in the packing phase) and give each item
/// <see cref="PanelsPerTile"/> B panels, so that there are items enough for every thread. The m-blocks hold equal
/// numbers of MR-panels (±1), so that no thread waits long for another's last block.</para>
/// </remarks>
internal sealed unsafe class BlockedGemm<TKernel> : ParallelWork where TKernel : struct, IGemmKernel
{
    private const int PackedBFloats = 4 << 20;   // 16 MB of packed B at most: more is taken in n-blocks
    private const int RowsGroupColumns = 1024;   // columns of C per item when A is packed per item
    private const int PanelsPerTile = 8;         // B panels per item when A is packed up front

    private enum Phase { Pack, Compute }
    private Phase _phase;
    private int _m, _n, _k, _lda, _ldb, _ldc, _jc, _nc, _kBlocks, _nIc, _mPanels, _nPanelsB, _panelsPerGroup, _nGroups;
    private float* _a, _c;
    private void* _b;
    private bool _transA, _transB, _accumulate, _packAUpFront;
    private ElementType _bType;
    private float* _packA, _packB;
    private float[]? _packABuffer, _packBBuffer;   // pinned, reused from call to call

    private static int MR => TKernel.MR;
    private static int NR => TKernel.NR;
    private static int KC => Gemm.KC;

    public void Run(WorkerPool pool, int m, int n, int k,
        float* a, int lda, bool transA, void* b, int ldb, bool transB, ElementType bType, float* c, int ldc, bool accumulate)
    {
        (_m, _n, _k, _lda, _transA, _ldb, _transB, _bType, _ldc, _accumulate) = (m, n, k, lda, transA, ldb, transB, bType, ldc, accumulate);
        _a = a; _b = b; _c = c;
        _kBlocks = (k + KC - 1) / KC;
        _mPanels = (m + MR - 1) / MR;
        _nIc = (m + TKernel.MC - 1) / TKernel.MC;
        _packAUpFront = _nIc < 2 * pool.ThreadCount;
        if (!_packAUpFront) _nIc = (_nIc + pool.ThreadCount - 1) / pool.ThreadCount * pool.ThreadCount;
        int ncMax = Math.Max(1, PackedBFloats / (_kBlocks * KC * NR)) * NR;
        int panelsMax = (Math.Min(n, ncMax) + NR - 1) / NR;
        _packA = _packAUpFront ? Gemm.Align(ref _packABuffer, _kBlocks * _mPanels * MR * KC) : null;
        _packB = Gemm.Align(ref _packBBuffer, _kBlocks * panelsMax * NR * KC);
        _panelsPerGroup = _packAUpFront ? PanelsPerTile : RowsGroupColumns / NR;
        for (int jc = 0; jc < n; jc += ncMax)
        {
            _jc = jc;
            _nc = Math.Min(ncMax, n - jc);
            _nPanelsB = (_nc + NR - 1) / NR;
            _nGroups = (_nPanelsB + _panelsPerGroup - 1) / _panelsPerGroup;
            // A is packed once for all n-blocks when it is packed up front.
            int packItems = _kBlocks * (_nPanelsB + (_packAUpFront && jc == 0 ? _mPanels : 0));
            _phase = Phase.Pack; pool.For(packItems, this);
            _phase = Phase.Compute; pool.For(_nIc * _nGroups, this);
        }
        _a = _c = _packA = _packB = null; _b = null;
    }

    public override void Execute(int index)
    {
        if (_phase == Phase.Compute) { Compute(index % _nIc, index / _nIc); return; }
        int block = index % _kBlocks, panel = index / _kBlocks;
        if (panel < _nPanelsB) PackBPanel(block, panel);
        else PackAPanel(block, panel - _nPanelsB, PackedA(block, panel - _nPanelsB));
    }

    private float* PackedA(int block, int panel) => _packA + ((long)block * _mPanels + panel) * MR * KC;
    private float* PackedB(int block, int panel) => _packB + ((long)block * _nPanelsB + panel) * NR * KC;

    // m-block ic covers A panels [FirstPanel(ic), FirstPanel(ic + 1)).
    private int FirstPanel(int ic) => (int)((long)ic * _mPanels / _nIc);

    private void PackAPanel(int block, int panel, float* dst)
    {
        int r0 = panel * MR, pc = block * KC;
        GemmPacking.PackA<TKernel>(_a, _lda, _transA, r0, Math.Min(MR, _m - r0), pc, Math.Min(KC, _k - pc), dst);
    }

    private void PackBPanel(int block, int panel)
    {
        int j0 = _jc + panel * NR, pc = block * KC;
        GemmPacking.PackB<TKernel>(_b, _bType, _ldb, _transB, j0, Math.Min(NR, _jc + _nc - j0), pc, Math.Min(KC, _k - pc),
            PackedB(block, panel));
    }

    [ThreadStatic] private static float[]? t_blockA;

    // m-block ic against B panel group `group`, every k-block in order.
    private void Compute(int ic, int group)
    {
        int p0 = FirstPanel(ic), p1 = FirstPanel(ic + 1);
        if (p0 == p1) return;
        int q0 = group * _panelsPerGroup, q1 = Math.Min(_nPanelsB, q0 + _panelsPerGroup);
        float* ownA = _packAUpFront ? null : Gemm.Align(ref t_blockA, (p1 - p0) * MR * KC);
        float* tile = stackalloc float[MR * NR];
        for (int block = 0; block < _kBlocks; block++)
        {
            int kc = Math.Min(KC, _k - block * KC);
            bool overwrite = block == 0 && !_accumulate;
            float* blockA = ownA;
            if (_packAUpFront) blockA = PackedA(block, p0);
            else
                for (int p = p0; p < p1; p++) PackAPanel(block, p, ownA + (long)(p - p0) * MR * KC);
            for (int q = q0; q < q1; q++)
            {
                int j = _jc + q * NR, nr = Math.Min(NR, _n - j);
                float* bp = PackedB(block, q);
                for (int p = p0; p < p1; p++)
                {
                    int i = p * MR, mr = Math.Min(MR, _m - i);
                    float* ap = blockA + (long)(p - p0) * MR * KC;
                    float* cp = _c + (long)i * _ldc + j;
                    if (mr == MR && nr == NR)
                        TKernel.Run(kc, ap, bp, cp, _ldc, !overwrite);
                    else
                    {
                        TKernel.Run(kc, ap, bp, tile, NR, false);
                        for (int r = 0; r < mr; r++)
                            for (int cc = 0; cc < nr; cc++)
                            {
                                float v = tile[r * NR + cc];
                                cp[(long)r * _ldc + cc] = overwrite ? v : cp[(long)r * _ldc + cc] + v;
                            }
                    }
                }
            }
        }
    }
}
