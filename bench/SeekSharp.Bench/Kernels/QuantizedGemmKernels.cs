using BenchmarkDotNet.Attributes;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// y = x·Wᵀ with block-quantised W [512 × 512]: the AVX2 integer kernels of <see cref="QuantizedGemm"/> on one thread
/// against <see cref="QuantizedGemmReference.MultiplyWithQuantizedActivations"/>, the scalar definition of what they
/// compute (x quantised per block, integer dot products, summed in double); m = 1 is decoding, m = 16 a short prefill.
/// </summary>
public class QuantizedGemmKernels
{
    private const int Rows = 512, Cols = 512;
    private WorkerPool _pool = null!;
    private QuantizedMatrix _w = null!;
    private float[] _x = [], _y = [];

    [Params(QuantType.Q8_0, QuantType.Q4_0)]
    public QuantType Type { get; set; }

    [Params(1, 16)]
    public int M { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new WorkerPool(1);
        _w = QuantizedMatrix.Quantize(Type, KernelData.Random(Rows * Cols, 3, 0.05f), Rows, Cols);
        _x = KernelData.Random(M * Cols, 4);
        _y = new float[M * Rows];
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Baseline = true)]
    public void Reference() => QuantizedGemmReference.MultiplyWithQuantizedActivations(M, _x, Cols, _w, _y, Rows);

    [Benchmark]
    public void Fast() => QuantizedGemm.Multiply(_pool, M, _x, Cols, _w, _y, Rows);
}
