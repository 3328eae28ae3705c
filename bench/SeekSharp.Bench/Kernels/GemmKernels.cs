using BenchmarkDotNet.Attributes;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// y = x·Wᵀ (nn.Linear's layout): the blocked, packed <see cref="Gemm"/> on one thread against the triple loop of
/// <see cref="GemmReference"/>, for a prefill-like block of 64 rows and a decode-like single row.
/// </summary>
public class GemmKernels
{
    private WorkerPool _pool = null!;
    private float[] _x = [], _w = [], _y = [];

    /// <summary>m × n × k: rows of x, rows of W (outputs), columns of both (inputs).</summary>
    [Params("64x256x256", "1x1024x1024")]
    public string Shape { get; set; } = "";

    private int M => Dims[0];
    private int N => Dims[1];
    private int K => Dims[2];
    private int[] Dims => Shape.Split('x').Select(int.Parse).ToArray();

    [GlobalSetup]
    public void Setup()
    {
        _pool = new WorkerPool(1);
        _x = KernelData.Random(M * K, 1);
        _w = KernelData.Random(N * K, 2);
        _y = new float[M * N];
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Baseline = true)]
    public void Reference() => GemmReference.Multiply(M, N, K, _x, K, false, _w, K, true, _y, N, accumulate: false);

    [Benchmark]
    public void Fast() => Gemm.Multiply(_pool, M, N, K, _x, K, false, _w, K, true, _y, N);
}
