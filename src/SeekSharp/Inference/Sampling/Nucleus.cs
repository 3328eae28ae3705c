namespace SeekSharp.Inference;

/// <summary>
/// Top-p (nucleus) filtering (Holtzman et al. 2020) over candidate weights w ≥ 0: keep the smallest set of most
/// likely candidates, best first (ties to the lower id), whose weight reaches need = P · Σw, the candidate that
/// crosses the boundary included, as HF and llama.cpp do.
/// </summary>
/// <remarks>
/// Found by radix selection instead of a sort: non-negative floats order like their bit patterns, so one pass sums
/// the weights by their top 8 bits (the exponent: buckets a power of two wide), and adding the buckets from the
/// heaviest down tells which bucket the boundary falls in. Every candidate of a heavier bucket is in the nucleus,
/// every one of a lighter bucket out; only the boundary bucket is looked at again, by its next 8 bits, and so on.
/// Each level costs one pass over a shrinking set; only the last few dozen candidates (or a run of exactly equal
/// weights) are sorted. A flat distribution at high temperature, whose nucleus holds most of the vocabulary, costs
/// about as much as a peaked one.
/// </remarks>
internal static class Nucleus
{
    private const int SortBelow = 64;

    /// <summary>
    /// Rearranges the candidates so that the nucleus is [0, count), in no particular order, and returns count.
    /// <paramref name="massByDigit"/> is scratch of 256.
    /// </summary>
    public static int Cut(Span<float> w, Span<int> ids, double need, Span<double> massByDigit)
    {
        int lo = 0, hi = w.Length;   // [0, lo) certainly in, [lo, hi) undecided, [hi, ..) out
        ReadOnlySpan<int> shifts = [23, 15, 7, 0];   // bits 30..23 (exponent), 22..15, 14..7, 7..0 of the weight
        foreach (int shift in shifts)
        {
            if (hi - lo <= SortBelow) break;
            massByDigit.Clear();
            for (int j = lo; j < hi; j++) massByDigit[Digit(w[j], shift)] += w[j];
            int bucket = 255;
            double above = 0;
            while (bucket > 0 && above + massByDigit[bucket] < need) above += massByDigit[bucket--];
            need -= above;   // still > 0: the heavier buckets fell short of it
            (lo, hi) = Partition(w, ids, lo, hi, shift, bucket);
        }
        // A few candidates, or a run of identical weights: order them (ties by id) and take until need is reached.
        CandidateOrder.SortBest(w[lo..hi], ids[lo..hi]);
        double cumulative = 0;
        for (int j = lo; j < hi; j++)
        {
            cumulative += w[j];
            if (cumulative >= need) return j + 1;
        }
        return hi;   // rounding left the bucket just short of need: keep all of it
    }

    private static int Digit(float w, int shift) => (int)(BitConverter.SingleToUInt32Bits(w) >> shift) & 0xFF;

    /// <summary>
    /// Three-way partition of [lo, hi) by digit: heavier than <paramref name="bucket"/> first, then the bucket,
    /// then the lighter ones. Returns where the bucket starts and ends.
    /// </summary>
    private static (int Start, int End) Partition(Span<float> w, Span<int> ids, int lo, int hi, int shift, int bucket)
    {
        int heavier = lo, i = lo, lighter = hi;
        while (i < lighter)
        {
            int d = Digit(w[i], shift);
            if (d > bucket) Swap(w, ids, heavier++, i++);
            else if (d < bucket) Swap(w, ids, i, --lighter);
            else i++;
        }
        return (heavier, lighter);
    }

    private static void Swap(Span<float> w, Span<int> ids, int a, int b)
    {
        (w[a], w[b]) = (w[b], w[a]);
        (ids[a], ids[b]) = (ids[b], ids[a]);
    }
}
