using SeekSharp.Tensors;

namespace SeekSharp.Inference;

/// <summary>
/// Draws an index from unnormalised non-negative weights by inverting the cumulative distribution with one uniform
/// number: the first j with u·Σw &lt; Σ_{i≤j} w_i. This is an exact categorical sample, like the exponential
/// trick of DeepSeek's demo (argmax w_i / E_i, E_i ~ Exp(1)), but costs one random number per token instead of one
/// per vocabulary entry.
/// </summary>
internal static class Categorical
{
    /// <summary>Σ w in double, in index order; pass it to <see cref="Draw"/> so that both see the same total.</summary>
    public static double Total(ReadOnlySpan<float> weights)
    {
        double total = 0;
        foreach (float w in weights) total += w;
        return total;
    }

    /// <summary>An index j with probability w_j / total; a zero weight is never chosen.</summary>
    public static int Draw(ReadOnlySpan<float> weights, double total, ref Rng rng)
    {
        double u = rng.NextDouble() * total, cumulative = 0;
        int lastPositive = -1;
        for (int j = 0; j < weights.Length; j++)
        {
            float w = weights[j];
            if (!(w > 0)) continue;
            cumulative += w;
            lastPositive = j;
            if (u < cumulative) return j;
        }
        // Only reachable when u·total rounds up to the final cumulative sum: the last positive weight owns that gap.
        return lastPositive;
    }
}
