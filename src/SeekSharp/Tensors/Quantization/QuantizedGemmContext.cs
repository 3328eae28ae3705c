namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// Per-thread state of <see cref="QuantizedGemm"/>: the quantised activations of the current call and one reusable
/// parallel job, so that a call allocates nothing once its buffers have grown to size.
/// </summary>
/// <remarks>
/// <para>y = x·Wᵀ runs in two phases. <see cref="Phase.Quantize"/> turns x into int8 blocks (over the pool when there
/// are at least 2^16 values, inline otherwise). Then one of two ways through W's rows, chosen by m:</para>
/// <list type="bullet">
/// <item><see cref="Phase.RowDots"/> (m below <see cref="QuantizedGemm.PanelMinRows"/>, decode): items of
/// <see cref="QuantizedGemm.RowsPerItem"/> stored rows, each read once by <see cref="RowDotKernels"/>.</item>
/// <item><see cref="Phase.Panels"/> (prefill, expert batches): items of <see cref="PanelsPerItem"/> panels of 8 rows,
/// which the executing thread packs into its own scratch, then sweeps with every 4-row activation tile
/// (<see cref="PanelKernels"/>); a tile serves both panels while it is in L1.</item>
/// </list>
/// <para>y = x·W (untransposed rows) is a single phase, <see cref="Phase.RowSums"/>: items of
/// <see cref="RowSumKernels.BlocksPerItem"/> column blocks.</para>
/// <para>Each y element is written by exactly one item, computed in a fixed order: results do not depend on the
/// number of threads. They do depend on the path (a row computed alone or within a batch differs in float rounding).</para>
/// </remarks>
internal sealed unsafe class QuantizedGemmContext : ParallelWork
{
    public const int PanelsPerItem = 2;
    private const int RowsPerPanelItem = PanelsPerItem * PackedPanel.Rows;
    private const int ParallelQuantizeMinValues = 1 << 16;
    private const int QuantizeRowsPerItem = 8;   // whole 4-row tiles per item

    [ThreadStatic] private static QuantizedGemmContext? t_context;
    [ThreadStatic] private static byte[]? t_panels;

    public static QuantizedGemmContext ForThisThread() => t_context ??= new QuantizedGemmContext();

    private enum Phase { Quantize, RowDots, Panels, RowSums }

    private readonly QuantizedActivations _q = new();
    private Phase _phase;
    // The call: y[m, ·] (+)= x[m, ·] times rows [_rowStart, _rowStart + _rowCount) of _w.
    private QuantizedMatrix? _w;
    private float* _x, _y;
    private int _m, _ldx, _ldy, _rowStart, _rowCount;
    private bool _accumulate;

    /// <summary>y[m, rowCount] (+)= x[m, Cols] · W[rowStart.., :]ᵀ.</summary>
    public void Run(WorkerPool pool, int m, float* x, int ldx, QuantizedMatrix w, int rowStart, int rowCount, float* y, int ldy, bool accumulate)
    {
        Begin(m, x, ldx, w, rowStart, rowCount, y, ldy, accumulate);
        bool panels = m >= QuantizedGemm.PanelMinRows(w.Type);
        _q.Prepare(m, w.Cols, panels ? ActivationLayout.Tiles : ActivationLayout.Rows, absCodes: !panels && w.Type == QuantType.Q8_0);
        try
        {
            _phase = Phase.Quantize;
            if ((long)m * w.Cols >= ParallelQuantizeMinValues) pool.For((m + QuantizeRowsPerItem - 1) / QuantizeRowsPerItem, this);
            else for (int i = 0; i < m; i++) _q.QuantizeRow(i, x + (long)i * ldx, w.Cols);
            _phase = panels ? Phase.Panels : Phase.RowDots;
            int rowsPerItem = panels ? RowsPerPanelItem : QuantizedGemm.RowsPerItem;
            pool.For((rowCount + rowsPerItem - 1) / rowsPerItem, this);
        }
        finally { End(); }
    }

    /// <summary>y[m, Cols] (+)= x[m, rowCount] · W[rowStart.., :].</summary>
    public void RunRowSums(WorkerPool pool, int m, float* x, int ldx, QuantizedMatrix w, int rowStart, int rowCount, float* y, int ldy, bool accumulate)
    {
        Begin(m, x, ldx, w, rowStart, rowCount, y, ldy, accumulate);
        _phase = Phase.RowSums;
        try { pool.For((w.BlocksPerRow + RowSumKernels.BlocksPerItem - 1) / RowSumKernels.BlocksPerItem, this); }
        finally { End(); }
    }

    private void Begin(int m, float* x, int ldx, QuantizedMatrix w, int rowStart, int rowCount, float* y, int ldy, bool accumulate)
    {
        (_w, _m, _ldx, _ldy, _rowStart, _rowCount, _accumulate) = (w, m, ldx, ldy, rowStart, rowCount, accumulate);
        _x = x;
        _y = y;
    }

    private void End()
    {
        _w = null;
        _x = _y = null;
    }

    public override void Execute(int index)
    {
        var w = _w!;
        bool q8 = w.Type == QuantType.Q8_0;
        switch (_phase)
        {
            case Phase.Quantize:
                for (int i = index * QuantizeRowsPerItem; i < Math.Min(_m, (index + 1) * QuantizeRowsPerItem); i++)
                    _q.QuantizeRow(i, _x + (long)i * _ldx, w.Cols);
                break;
            case Phase.RowDots:
                int j0 = index * QuantizedGemm.RowsPerItem, j1 = Math.Min(_rowCount, j0 + QuantizedGemm.RowsPerItem);
                if (q8) RowDots<Q8_0Format>(j0, j1);
                else RowDots<Q4_0Format>(j0, j1);
                break;
            case Phase.Panels:
                Panels(index * RowsPerPanelItem);
                break;
            case Phase.RowSums:
                int b0 = index * RowSumKernels.BlocksPerItem;
                if (q8) RowSumKernels.Run<Q8_0Format>(w, _rowStart, _rowCount, b0, RowSumKernels.BlocksPerItem, _m, _x, _ldx, _y, _ldy, _accumulate);
                else RowSumKernels.Run<Q4_0Format>(w, _rowStart, _rowCount, b0, RowSumKernels.BlocksPerItem, _m, _x, _ldx, _y, _ldy, _accumulate);
                break;
        }
    }

    // Outputs [j0, j1): each weight row once, against the activation rows in pairs, then one.
    private void RowDots<T>(int j0, int j1) where T : IQuantFormat
    {
        var w = _w!;
        int blocks = w.BlocksPerRow, m = _m;
        for (int j = j0; j < j1; j++)
        {
            byte* row = w.RowPointer(_rowStart + j);
            int i = 0;
            for (; i + 2 <= m; i += 2)
            {
                RowDotKernels.Dot2<T>(row, blocks, new ActivationRow(_q, i), new ActivationRow(_q, i + 1), out float y0, out float y1);
                Store(i, j, y0);
                Store(i + 1, j, y1);
            }
            if (i < m) Store(i, j, RowDotKernels.Dot1<T>(row, blocks, new ActivationRow(_q, i)));
        }
    }

    private void Store(int i, int j, float value)
    {
        float* y = _y + (long)i * _ldy + j;
        *y = _accumulate ? *y + value : value;
    }

    // Outputs [j0, j0 + 16): pack the (up to) two panels, then every activation tile against both.
    private void Panels(int j0)
    {
        var w = _w!;
        int blocks = w.BlocksPerRow, panelBytes = blocks * PackedPanel.BlockBytes(w.Type);
        int panels = Math.Min(PanelsPerItem, (_rowCount - j0 + PackedPanel.Rows - 1) / PackedPanel.Rows);
        int need = PanelsPerItem * panelBytes + 64;
        if (t_panels is null || t_panels.Length < need) t_panels = GC.AllocateUninitializedArray<byte>(need, pinned: true);
        fixed (byte* buffer = t_panels)
        {
            byte* scratch = (byte*)(((nint)buffer + 63) & ~(nint)63);   // chunk loads on cache lines
            for (int p = 0; p < panels; p++)
            {
                int first = j0 + p * PackedPanel.Rows;
                PackedPanel.Pack(w, _rowStart + first, Math.Min(PackedPanel.Rows, _rowCount - first), scratch + p * panelBytes);
            }
            for (int i = 0; i < _m; i += QuantizedActivations.TileRows)
            {
                int rows = Math.Min(QuantizedActivations.TileRows, _m - i);
                byte* tile = _q.Tile(i / QuantizedActivations.TileRows);
                for (int p = 0; p < panels; p++)
                {
                    int j = j0 + p * PackedPanel.Rows, cols = Math.Min(PackedPanel.Rows, _rowCount - j);
                    float* y = _y + (long)i * _ldy + j;
                    byte* panel = scratch + p * panelBytes;
                    if (w.Type == QuantType.Q8_0) PanelKernels.Q8(panel, tile, blocks, _q.TileBlockBytes, y, _ldy, rows, cols, _accumulate);
                    else PanelKernels.Q4(panel, tile, blocks, _q.TileBlockBytes, y, _ldy, rows, cols, _accumulate);
                }
            }
        }
    }
}
