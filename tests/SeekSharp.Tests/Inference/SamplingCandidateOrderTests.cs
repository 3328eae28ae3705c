using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>
/// Partial selection, compaction, sorting and the nucleus cut against a full sort by (value descending, id ascending).
/// </summary>
[Collection(nameof(SamplingCollection))]
public class SamplingCandidateOrderTests
{
    public static TheoryData<string> Shapes => ["random", "ascending", "descending", "all equal", "few values", "organ pipe", "-inf tail"];

    private static float[] Make(string shape, int n, int seed)
    {
        var r = new Random(seed);
        return shape switch
        {
            "random" => TestUtil.RandomArray(n, seed, 10f),
            "ascending" => Enumerable.Range(0, n).Select(i => (float)i).ToArray(),
            "descending" => Enumerable.Range(0, n).Select(i => (float)-i).ToArray(),
            "all equal" => new float[n],
            "few values" => Enumerable.Range(0, n).Select(_ => (float)r.Next(4)).ToArray(),
            "organ pipe" => Enumerable.Range(0, n).Select(i => (float)Math.Min(i, n - i)).ToArray(),
            _ => Enumerable.Range(0, n).Select(i => i % 3 == 0 ? float.NegativeInfinity : (float)r.NextDouble()).ToArray(),
        };
    }

    private static int[] BestFirst(float[] values) =>
        Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SelectBestPutsExactlyTheKBestInFront(string shape)
    {
        foreach (int n in new[] { 1, 2, 17, 100, 5000 })
            foreach (int k in new[] { 1, 2, 16, 17, 40, n / 2, n - 1, n })
                foreach (int budget in new[] { -1, 0, 1 })   // -1: the normal budget; 0 and 1 force the heapsort fallback
                {
                    if (k < 1 || k > n) continue;
                    var values = Make(shape, n, n + k);
                    var expected = BestFirst(values).Take(k).Order().ToArray();
                    var v = (float[])values.Clone();
                    var ids = Enumerable.Range(0, n).ToArray();
                    if (budget < 0) CandidateOrder.SelectBest(v, ids, k);
                    else CandidateOrder.SelectBest(v, ids, k, budget);
                    Assert.Equal(expected, ids.Take(k).Order().ToArray());
                    for (int j = 0; j < n; j++) Assert.Equal(values[ids[j]], v[j]);   // values moved with their ids
                }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SortBestOrdersByValueThenId(string shape)
    {
        foreach (int n in new[] { 1, 3, 16, 17, 64, 1000 })
        {
            var values = Make(shape, n, n);
            var v = (float[])values.Clone();
            var ids = Enumerable.Range(0, n).ToArray();
            CandidateOrder.SortBest(v, ids);
            Assert.Equal(BestFirst(values), ids);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void KeepAtLeastKeepsExactlyTheValuesAtOrAboveTheThresholdInOrder(string shape)
    {
        foreach (int n in new[] { 0, 5, 8, 9, 100, 1003 })
            foreach (bool hasIds in new[] { false, true })
            {
                var values = Make(shape, n, n + 1);
                float threshold = n == 0 ? 0 : values.OrderBy(v => v).ElementAt(n / 2);
                var v = (float[])values.Clone();
                var ids = hasIds ? Enumerable.Range(0, n).Select(i => 1000 + i).ToArray() : new int[n];
                int kept = CandidateOrder.KeepAtLeast(v, ids, hasIds, threshold);
                var expected = Enumerable.Range(0, n).Where(i => values[i] >= threshold).ToArray();
                Assert.Equal(expected.Select(i => hasIds ? 1000 + i : i), ids.Take(kept));
                Assert.Equal(expected.Select(i => values[i]), v.Take(kept));
            }
    }

    public static TheoryData<string> WeightShapes => ["peaked", "flat", "few values", "all equal", "zeros and subnormals", "wide range"];

    private static float[] Weights(string shape, int n, int seed)
    {
        var r = new Random(seed);
        return shape switch
        {
            "peaked" => Enumerable.Range(0, n).Select(_ => MathF.Exp(-8 * (float)r.NextDouble() * (float)r.NextDouble() * 4)).ToArray(),
            "flat" => Enumerable.Range(0, n).Select(_ => 0.5f + 0.5f * (float)r.NextDouble()).ToArray(),
            "few values" => Enumerable.Range(0, n).Select(_ => (r.Next(3) + 1) / 4f).ToArray(),
            "all equal" => Enumerable.Repeat(0.25f, n).ToArray(),
            "zeros and subnormals" => Enumerable.Range(0, n).Select(i => i == 7 ? 1f : r.Next(3) switch { 0 => 0f, 1 => 1e-40f * r.Next(1, 100), _ => 1e-30f }).ToArray(),
            _ => Enumerable.Range(0, n).Select(_ => MathF.Pow(10, -30 * (float)r.NextDouble())).ToArray(),
        };
    }

    [Theory]
    [MemberData(nameof(WeightShapes))]
    public void NucleusCutIsTheShortestBestFirstPrefixReachingP(string shape)
    {
        var scratch = new double[256];
        foreach (int n in new[] { 1, 10, 64, 65, 3000, 30_000 })
        {
            var weights = Weights(shape, n, n);
            var order = BestFirst(weights);
            foreach (double p in new[] { 1e-6, 0.3, 0.5, 0.9, 0.999 })
                AssertCut(weights, order, p * weights.Sum(x => (double)x), scratch);
        }
    }

    /// <summary>Nucleus.Cut keeps the same set as the definition: the shortest best-first prefix reaching need.</summary>
    private static void AssertCut(float[] weights, int[] order, double need, double[] scratch)
    {
        int n = weights.Length, count = n;
        double cumulative = 0;
        for (int j = 0; j < n; j++)
        {
            cumulative += weights[order[j]];
            if (cumulative >= need) { count = j + 1; break; }
        }
        var w = (float[])weights.Clone();
        var ids = Enumerable.Range(0, n).ToArray();
        int cut = Nucleus.Cut(w, ids, need, scratch);
        Assert.Equal(order.Take(count).Order(), ids.Take(cut).Order());
        for (int j = 0; j < n; j++) Assert.Equal(weights[ids[j]], w[j]);   // weights moved with their ids
    }
}
