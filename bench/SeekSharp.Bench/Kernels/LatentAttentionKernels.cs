using BenchmarkDotNet.Attributes;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// One decoded token's attention in one layer of inference-800m at a 4K context (absorbed MLA: 16 heads, d_c 256,
/// d_r 64, 4,096 cached positions; 2·16·(2·256 + 64)·4096 = 75.5 MFLOP and 5.2 MB of cache): the chunked
/// <see cref="LatentAttention"/> kernel with 512- and 256-bit vectors and 1 and 2 threads, against the previous
/// formulation (three general GEMM calls and a softmax per row, as Mla.AttendAbsorbed did before the kernel) and the
/// plain double-precision definition as the baseline.
/// </summary>
public class LatentAttentionKernels
{
    private const int Heads = 16, LatentDim = 256, RopeDim = 64, Keys = 4096;
    private readonly Tensor _q = new(KernelData.Random(Heads * LatentDim, 11), new TensorShape(Heads, LatentDim));
    private readonly Tensor _qr = new(KernelData.Random(Heads * RopeDim, 12), new TensorShape(Heads, RopeDim));
    private readonly Tensor _c = new(KernelData.Random(Keys * LatentDim, 13), new TensorShape(Keys, LatentDim));
    private readonly Tensor _kr = new(KernelData.Random(Keys * RopeDim, 14), new TensorShape(Keys, RopeDim));
    private readonly Tensor _out = Tensor.Zeros(Heads, LatentDim);
    private readonly Tensor _scores = Tensor.Zeros(Heads, Keys);
    private readonly Tensor _scratch = Tensor.Zeros(LatentAttention.ScratchSize(Heads, LatentDim, Keys));
    private readonly WorkerPool _one = new(1), _two = new(2);
    private const float Scale = 0.1f;

    [GlobalCleanup]
    public void Cleanup()
    {
        _one.Dispose();
        _two.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Reference() => LatentAttention.Reference(_q, _qr, _c, _kr, Keys, Scale, _out);

    [Benchmark]
    public void GemmCalls2Threads()
    {
        Gemm.Multiply(_two, _q.Matrix, _c.Matrix.T, _scores.Matrix);
        Gemm.Multiply(_two, _qr.Matrix, _kr.Matrix.T, _scores.Matrix, accumulate: true);
        for (int h = 0; h < Heads; h++)
        {
            var row = _scores.Row(h);
            VectorOps.Scale(row, Scale);
            Softmax.InPlace(row);
        }
        Gemm.Multiply(_two, _scores.Matrix, _c.Matrix, _out.Matrix);
    }

    [Benchmark]
    public void Chunked256Bit1Thread() => LatentAttention.AttendWith(_one, _q, _qr, _c, _kr, Keys, Scale, _out, _scratch, wide: false);

    [Benchmark]
    public void Chunked256Bit2Threads() => LatentAttention.AttendWith(_two, _q, _qr, _c, _kr, Keys, Scale, _out, _scratch, wide: false);

    [Benchmark]
    public void Chunked512Bit1Thread()
    {
        if (LatentAttention.Vector512Available) LatentAttention.AttendWith(_one, _q, _qr, _c, _kr, Keys, Scale, _out, _scratch, wide: true);
    }

    [Benchmark]
    public void Chunked512Bit2Threads()
    {
        if (LatentAttention.Vector512Available) LatentAttention.AttendWith(_two, _q, _qr, _c, _kr, Keys, Scale, _out, _scratch, wide: true);
    }
}
