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
        var w = _w!;
        int blocks = w.BlocksPerRow, rowBytes = w.RowBytes;
        float* four = stackalloc float[4];
        for (int i = 0; i < _m; i++)
        {
            sbyte* x = _x.RowCodes(i);
            float* xs = _x.RowScales(i);
            int* sums = _x.RowSums(i);
            float* y = _y + (long)i * _ldy;
            int j = j0;
            for (; j + 4 <= j1; j += 4)
            {
                byte* wr = w.RowPointer(_rowStart + j);
                if (w.Type == QuantType.Q8_0) RowDotKernels.Q8x4(wr, rowBytes, blocks, x, xs, four);
                else RowDotKernels.Q4x4(wr, rowBytes, blocks, x, xs, sums, four);
                for (int r = 0; r < 4; r++) y[j + r] = _accumulate ? y[j + r] + four[r] : four[r];
            }
            for (; j < j1; j++)
            {
                byte* wr = w.RowPointer(_rowStart + j);
                float v = w.Type == QuantType.Q8_0 ? RowDotKernels.Q8x1(wr, blocks, x, xs) : RowDotKernels.Q4x1(wr, blocks, x, xs, sums);
                y[j] = _accumulate ? y[j] + v : v;
            }
        }
    }
}
