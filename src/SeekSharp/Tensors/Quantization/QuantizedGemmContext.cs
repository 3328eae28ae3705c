namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// Per-thread state of <see cref="QuantizedGemm"/>: the quantised activations of the current call and the reusable
/// parallel job, so a call allocates nothing once its buffers have grown to size.
/// </summary>
/// <remarks>
/// Two ways through the output rows, chosen by m. Short left-hand sides (m below <see cref="QuantizedGemm.PanelMinRows"/>)
/// take <see cref="RowDotKernels"/> over the stored rows: items of <see cref="QuantizedGemm.RowsPerItem"/> rows, each
/// row read once. Longer ones take <see cref="PanelKernels"/>: an item is <see cref="PanelsPerItem"/> panels of 8
/// rows, which the executing thread packs into its own scratch, then sweeps with all activation rows, four at a time;
/// each activation tile is used for all panels of the item while it is in L1.
/// </remarks>
internal sealed unsafe class QuantizedGemmContext : ParallelWork
{
    [ThreadStatic] private static QuantizedGemmContext? t_context;
    public static QuantizedGemmContext ForThisThread() => t_context ??= new QuantizedGemmContext();

    public const int PanelsPerItem = 2;
    private const int RowsPerPanelItem = PanelsPerItem * PackedPanel.Rows;

    [ThreadStatic] private static byte[]? t_panels;

    private readonly QuantizedActivations _x = new();
    // Quantising the activations is spread over the pool only when it is big enough to pay for a second dispatch.
    private const int ParallelQuantizeMinValues = 1 << 16;
    private const int QuantizeRowsPerItem = 8;

    private bool _panels, _quantizing, _rowSums;
    private float* _xFloat;
    private int _ldxFloat;
    private QuantizedMatrix? _w;
    private int _m, _rowStart, _rowCount, _ldx, _ldy;
    private float* _xSource, _y;
    private bool _accumulate;

    /// <summary>y[m, Cols] (+)= x[m, rowCount] · W[rowStart.., :] over column items of <see cref="RowSumKernels"/>.</summary>
    public void RunRowSums(WorkerPool pool, int m, float* x, int ldx, QuantizedMatrix w, int rowStart, int rowCount, float* y, int ldy, bool accumulate)
    {
        (_w, _m, _rowStart, _rowCount, _ldy, _accumulate, _ldxFloat) = (w, m, rowStart, rowCount, ldy, accumulate, ldx);
        _xFloat = x;
        _y = y;
        _rowSums = true;
        try { pool.For((w.BlocksPerRow + RowSumKernels.BlocksPerItem - 1) / RowSumKernels.BlocksPerItem, this); }
        finally { _rowSums = false; _w = null; _xFloat = _y = null; }
    }

    public void Run(WorkerPool pool, int m, float* x, int ldx, QuantizedMatrix w, int rowStart, int rowCount, float* y, int ldy, bool accumulate)
    {
        (_w, _m, _rowStart, _rowCount, _ldx, _ldy, _accumulate) = (w, m, rowStart, rowCount, ldx, ldy, accumulate);
        _xSource = x;
        _y = y;
        _panels = m >= QuantizedGemm.PanelMinRows(w.Type);
        _x.Prepare(m, w.Cols, _panels ? ActivationLayout.Tiles : ActivationLayout.Rows, absCodes: !_panels && w.Type == QuantType.Q8_0);
        try
        {
            _quantizing = true;
            if ((long)m * w.Cols >= ParallelQuantizeMinValues) pool.For((m + QuantizeRowsPerItem - 1) / QuantizeRowsPerItem, this);
            else for (int i = 0; i < m; i++) _x.QuantizeRow(i, x + (long)i * ldx, w.Cols);
            _quantizing = false;
            int rowsPerItem = _panels ? RowsPerPanelItem : QuantizedGemm.RowsPerItem;
            pool.For((rowCount + rowsPerItem - 1) / rowsPerItem, this);
        }
        finally { _w = null; _xSource = _y = null; }
    }

    public override void Execute(int index)
    {
        if (_rowSums)
        {
            int b0 = index * RowSumKernels.BlocksPerItem;
            if (_w!.Type == QuantType.Q8_0) RowSumKernels.Run<Q8_0Format>(_w, _rowStart, _rowCount, b0, RowSumKernels.BlocksPerItem, _m, _xFloat, _ldxFloat, _y, _ldy, _accumulate);
            else RowSumKernels.Run<Q4_0Format>(_w, _rowStart, _rowCount, b0, RowSumKernels.BlocksPerItem, _m, _xFloat, _ldxFloat, _y, _ldy, _accumulate);
            return;
        }
        if (_quantizing)
        {
            for (int i = index * QuantizeRowsPerItem; i < Math.Min(_m, (index + 1) * QuantizeRowsPerItem); i++)
                _x.QuantizeRow(i, _xSource + (long)i * _ldx, _w!.Cols);
            return;
        }
        if (_panels)
        {
            Panels(index * RowsPerPanelItem);
            return;
        }
        int j0 = index * QuantizedGemm.RowsPerItem, j1 = Math.Min(_rowCount, j0 + QuantizedGemm.RowsPerItem);
        if (_w!.Type == QuantType.Q8_0) Rows<Q8_0Format>(j0, j1);
        else Rows<Q4_0Format>(j0, j1);
    }

    // Output columns [j0, j0 + 16): pack the (up to) two panels, then every activation tile against both.
    private void Panels(int j0)
    {
        var w = _w!;
        int blocks = w.BlocksPerRow, panelBytes = blocks * PackedPanel.BlockBytes(w.Type);
        int panels = Math.Min(PanelsPerItem, (_rowCount - j0 + PackedPanel.Rows - 1) / PackedPanel.Rows);
        int need = PanelsPerItem * panelBytes + 64;
        if (t_panels is null || t_panels.Length < need) t_panels = GC.AllocateUninitializedArray<byte>(need, pinned: true);
        fixed (byte* buffer = t_panels)
        {
            byte* scratch = (byte*)(((nint)buffer + 63) & ~(nint)63);   // 32-byte aligned chunk loads
            for (int p = 0; p < panels; p++)
            {
                int rowsLeft = _rowCount - (j0 + p * PackedPanel.Rows);
                PackedPanel.Pack(w, _rowStart + j0 + p * PackedPanel.Rows, Math.Min(PackedPanel.Rows, rowsLeft), scratch + p * panelBytes);
            }
            int tileBytes = _x.TileBlockBytes;
            for (int i = 0; i < _m; i += QuantizedActivations.TileRows)
            {
                int rows = Math.Min(QuantizedActivations.TileRows, _m - i);
                byte* tile = _x.Tile(i / QuantizedActivations.TileRows);
                for (int p = 0; p < panels; p++)
                {
                    int j = j0 + p * PackedPanel.Rows, cols = Math.Min(PackedPanel.Rows, _rowCount - j);
                    float* y = _y + (long)i * _ldy + j;
                    if (w.Type == QuantType.Q8_0) PanelKernels.Q8(scratch + p * panelBytes, tile, blocks, tileBytes, y, _ldy, rows, cols, _accumulate);
                    else PanelKernels.Q4(scratch + p * panelBytes, tile, blocks, tileBytes, y, _ldy, rows, cols, _accumulate);
                }
            }
        }
    }

    // Output columns [j0, j1): each weight row once, against the activation rows in pairs, then one.
    private void Rows<T>(int j0, int j1) where T : IQuantFormat
    {
        var w = _w!;
        int blocks = w.BlocksPerRow, m = _m;
        for (int j = j0; j < j1; j++)
        {
            byte* row = w.RowPointer(_rowStart + j);
            int i = 0;
            for (; i + 2 <= m; i += 2)
            {
                RowDotKernels.Dot2<T>(row, blocks, new ActivationRow(_x, i), new ActivationRow(_x, i + 1), out float y0, out float y1);
                Store(i, j, y0);
                Store(i + 1, j, y1);
            }
            if (i < m) Store(i, j, RowDotKernels.Dot1<T>(row, blocks, new ActivationRow(_x, i)));
        }
    }

    private void Store(int i, int j, float value)
    {
        float* y = _y + (long)i * _ldy + j;
        *y = _accumulate ? *y + value : value;
    }
}
