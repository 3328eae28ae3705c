using SeekSharp.Tensors;
using SeekSharp.Tensors.Weights;
using Xunit;

namespace SeekSharp.Tests.Quantization;

/// <summary>
/// A row's product does not depend on the rows beside it in the call (up to the panel threshold), so that verifying a
/// speculative draft [x, d] gives bit for bit the logits of decoding x alone.
/// </summary>
public class RowIndependenceTests
{
    private static readonly WorkerPool Pool = new(2);

    [Theory]
    [InlineData(WeightFormat.F32)]
    [InlineData(WeightFormat.BF16)]
    [InlineData(WeightFormat.Q8_0)]
    [InlineData(WeightFormat.Q4_0)]
    [InlineData(WeightFormat.Fp8E4M3)]
    public void EachRowOfASkinnyProductEqualsThatRowAlone(WeightFormat format)
    {
        int rows = 300, cols = 256;
        var w = WeightMatrix.FromFloat32(format, TestUtil.RandomArray(rows * cols, seed: 1, scale: 0.1f), rows, cols);
        // Up to the rows where the kernels switch to packed panels (prefill): what verifying a draft uses.
        int maxRows = format.QuantType() is { } q ? SeekSharp.Tensors.Quantization.QuantizedGemm.PanelMinRows(q) - 1 : 4;
        for (int m = 2; m <= maxRows; m++)
        {
            var x = TestUtil.RandomArray(m * cols, seed: m);
            var together = new float[m * rows];
            w.Multiply(Pool, m, x, cols, together, rows);
            for (int i = 0; i < m; i++)
            {
                var alone = new float[rows];
                w.Multiply(Pool, 1, x.AsSpan(i * cols, cols), cols, alone, rows);
                Assert.Equal(alone, together.AsSpan(i * rows, rows).ToArray());
            }
        }
    }
}
