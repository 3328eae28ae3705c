using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// The per-row kernels against their plain references: RMSNorm over a hidden state (d = 2048), SwiGLU's SiLU(gate) ⊙ up
/// over an expert's intermediate (2048), the stable softmax over a vocabulary's logits (32,000) and the router's top-k
/// (8 of 256 expert scores, as DeepSeek-V3 routes). Each reference is the double-precision (or sort-based) definition.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory), CategoriesColumn]
public class RowKernels
{
    private const int Hidden = 2048, Vocab = 32000, Experts = 256, TopKCount = 8;
    private readonly float[] _x = KernelData.Random(Hidden, 5), _w = KernelData.Random(Hidden, 6), _y = new float[Hidden];
    private readonly float[] _up = KernelData.Random(Hidden, 7);
    private readonly float[] _logits = KernelData.Random(Vocab, 8, 10f), _probs = new float[Vocab];
    private readonly float[] _scores = KernelData.Random(Experts, 9);
    private readonly int[] _chosen = new int[TopKCount];

    [Benchmark(Baseline = true), BenchmarkCategory("RmsNorm")]
    public void RmsNormReference() => RmsNorm.Reference(_x, _w, 1e-6f, _y);

    [Benchmark, BenchmarkCategory("RmsNorm")]
    public float RmsNormFast() => RmsNorm.Forward(_x, _w, 1e-6f, _y);

    [Benchmark(Baseline = true), BenchmarkCategory("SiluMul")]
    public void SiluMulReference() => Activations.SiluMulReference(_x, _up, _y);

    [Benchmark, BenchmarkCategory("SiluMul")]
    public void SiluMulFast() => Activations.SiluMul(_x, _up, _y);

    [Benchmark(Baseline = true), BenchmarkCategory("Softmax")]
    public void SoftmaxReference() => Softmax.Reference(_logits, _probs);

    [Benchmark, BenchmarkCategory("Softmax")]
    public void SoftmaxFast() => Softmax.Forward(_logits, _probs);

    [Benchmark(Baseline = true), BenchmarkCategory("TopK")]
    public void TopKReference() => TopK.Reference(_scores, TopKCount, _chosen);

    [Benchmark, BenchmarkCategory("TopK")]
    public void TopKFast() => TopK.Select(_scores, TopKCount, _chosen);
}
