namespace SeekSharp.Tensors.Quantization;

/// <summary>
/// Per-thread state of <see cref="QuantizedGemm"/>: the quantised activations of the current call and the reusable
/// parallel job, so a call allocates nothing once its buffers have grown to size.
/// </summary>
internal sealed unsafe class QuantizedGemmContext : ParallelWork
{
    [ThreadStatic] private static QuantizedGemmContext? t_context;
    public static QuantizedGemmContext ForThisThread() => t_context ??= new QuantizedGemmContext();

    private readonly QuantizedActivations _x = new();
    private QuantizedMatrix? _w;
    private int _m, _rowStart, _rowCount, _ldy;
    private float* _y;
    private bool _accumulate;

    public void Run(WorkerPool pool, int m, float* x, int ldx, QuantizedMatrix w, int rowStart, int rowCount, float* y, int ldy, bool accumulate)
    {
        _x.Prepare(m, w.Cols);
        for (int i = 0; i < m; i++) _x.QuantizeRow(i, x + (long)i * ldx, w.Cols);
        (_w, _m, _rowStart, _rowCount, _ldy, _accumulate) = (w, m, rowStart, rowCount, ldy, accumulate);
        _y = y;
        try { pool.For((rowCount + QuantizedGemm.RowsPerItem - 1) / QuantizedGemm.RowsPerItem, this); }
        finally { _w = null; _y = null; }
    }

    public override void Execute(int index)
    {
        int j0 = index * QuantizedGemm.RowsPerItem, j1 = Math.Min(_rowCount, j0 + QuantizedGemm.RowsPerItem);
        if (_w!.Type == QuantType.Q8_0) Rows<Q8_0Format>(j0, j1);
        else Rows<Q4_0Format>(j0, j1);
    }

    // Output columns [j0, j1): each weight row once, against the activation rows in groups of 4, then 2, then 1.
    private void Rows<T>(int j0, int j1) where T : IQuantFormat
    {
        var w = _w!;
        int blocks = w.BlocksPerRow, m = _m;
        float* four = stackalloc float[4];
        for (int j = j0; j < j1; j++)
        {
            byte* row = w.RowPointer(_rowStart + j);
            int i = 0;
            for (; i + 4 <= m; i += 4)
            {
                RowDotKernels.Dot4<T>(row, blocks, new ActivationRow(_x, i), new ActivationRow(_x, i + 1), new ActivationRow(_x, i + 2), new ActivationRow(_x, i + 3), four);
                for (int r = 0; r < 4; r++) Store(i + r, j, four[r]);
            }
            if (i + 2 <= m)
            {
                RowDotKernels.Dot2<T>(row, blocks, new ActivationRow(_x, i), new ActivationRow(_x, i + 1), out float y0, out float y1);
                Store(i, j, y0);
                Store(i + 1, j, y1);
                i += 2;
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
