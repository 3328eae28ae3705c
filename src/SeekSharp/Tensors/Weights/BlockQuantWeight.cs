using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Tensors.Weights;

/// <summary>A Q8_0 or Q4_0 matrix (<see cref="QuantizedMatrix"/>), multiplied by <see cref="QuantizedGemm"/>'s integer kernels.</summary>
public sealed class BlockQuantWeight(QuantizedMatrix matrix) : WeightMatrix(matrix.Rows, matrix.Cols)
{
    public QuantizedMatrix Matrix { get; } = matrix;
    public override WeightFormat Format => Matrix.Type.ToWeightFormat();
    public override long ByteSize => Matrix.ByteSize;
    public override bool IsView => Matrix.IsView;

    protected override void MultiplyRowsCore(WorkerPool pool, int m, ReadOnlySpan<float> x, int ldx, int rowStart, int rowCount,
        bool asTransposed, Span<float> y, int ldy, bool accumulate) =>
        QuantizedGemm.MultiplyRows(pool, m, x, ldx, Matrix, rowStart, rowCount, asTransposed, y, ldy, accumulate);

    public override void ReadRow(int row, Span<float> destination) => Matrix.DequantizeRow(row, destination);

    public override void Dequantize(Span<float> destination) => Matrix.Dequantize(destination);
}
