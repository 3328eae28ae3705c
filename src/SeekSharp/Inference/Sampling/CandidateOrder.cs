using System.Runtime.Intrinsics;

namespace SeekSharp.Inference;

/// <summary>
/// Orders sampling candidates held as two parallel spans (a value and its token id) without sorting the whole
/// vocabulary: <see cref="SelectBest(Span{float}, Span{int}, int)"/> moves the k best to the front in expected
/// linear time (quickselect), <see cref="SortBest"/> sorts a few, and <see cref="KeepAtLeast"/> compacts the
/// candidates to those at or above a bound, so that a selection runs over thousands of entries, not the vocabulary.
/// "Best" is a strict total order, larger value first, then lower id, so top-k and top-p are deterministic under ties.
/// Nothing is allocated.
/// </summary>
internal static class CandidateOrder
{
    private const int SmallRange = 16;

    /// <summary>Whether candidate (va, ia) ranks before (vb, ib).</summary>
    private static bool Before(float va, int ia, float vb, int ib) => va > vb || (va == vb && ia < ib);

    /// <summary>Rearranges the spans so that [0, k) holds the k best candidates, in no particular order.</summary>
    public static void SelectBest(Span<float> values, Span<int> ids, int k) =>
        SelectBest(values, ids, k, partitionBudget: 2 * (int)Math.Log2(Math.Max(values.Length, 1)) + 4);

    /// <summary>
    /// Median-of-three quickselect is linear on any realistic logits; after <paramref name="partitionBudget"/>
    /// partitions a pathological input falls back to a heapsort of what is left, so the worst case is n log n, not n².
    /// </summary>
    internal static void SelectBest(Span<float> values, Span<int> ids, int k, int partitionBudget)
    {
        int n = values.Length;
        if (k <= 0 || k >= n) return;
        int lo = 0, hi = n, target = k - 1, budget = partitionBudget;
        while (hi - lo > SmallRange)
        {
            if (budget-- == 0) { SortBest(values[lo..hi], ids[lo..hi]); return; }
            int p = lo + Partition(values[lo..hi], ids[lo..hi]);
            if (p == target) return;
            if (p < target) lo = p + 1; else hi = p;
        }
        InsertionSort(values[lo..hi], ids[lo..hi]);
    }

    /// <summary>
    /// Keeps, in place and in their order, the candidates whose value is ≥ <paramref name="threshold"/>, and returns
    /// how many. When <paramref name="hasIds"/> is false the ids are the positions, and are written for the survivors.
    /// </summary>
    public static int KeepAtLeast(Span<float> values, Span<int> ids, bool hasIds, float threshold)
    {
        int kept = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Most of a vocabulary is below any useful bound: test eight at a time and look only at blocks with a survivor.
            var bound = Vector256.Create(threshold);
            for (; i <= values.Length - 8; i += 8)
                if (Vector256.GreaterThanOrEqual(Vector256.Create(values.Slice(i, 8)), bound) != Vector256<float>.Zero)
                    KeepRange(values, ids, hasIds, threshold, i, i + 8, ref kept);
        }
        KeepRange(values, ids, hasIds, threshold, i, values.Length, ref kept);
        return kept;
    }

    private static void KeepRange(Span<float> values, Span<int> ids, bool hasIds, float threshold, int from, int to, ref int kept)
    {
        for (int j = from; j < to; j++)
        {
            if (!(values[j] >= threshold)) continue;
            ids[kept] = hasIds ? ids[j] : j;   // kept ≤ j: the compaction never overwrites an unread entry
            values[kept++] = values[j];
        }
    }

    /// <summary>Sorts the spans best first (heapsort: no recursion, no allocation, n log n in every case).</summary>
    public static void SortBest(Span<float> values, Span<int> ids)
    {
        int n = values.Length;
        if (n <= SmallRange) { InsertionSort(values, ids); return; }
        // A heap whose root is the *worst* candidate; popping it to the end of the shrinking heap leaves the span
        // best first.
        for (int i = n / 2 - 1; i >= 0; i--) SiftDown(values, ids, i, n);
        for (int end = n - 1; end > 0; end--)
        {
            Swap(values, ids, 0, end);
            SiftDown(values, ids, 0, end);
        }
    }

    private static void SiftDown(Span<float> v, Span<int> id, int i, int n)
    {
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= n) return;
            if (child + 1 < n && Before(v[child], id[child], v[child + 1], id[child + 1])) child++;   // the worse child
            if (!Before(v[i], id[i], v[child], id[child])) return;                                   // parent already worse
            Swap(v, id, i, child);
            i = child;
        }
    }

    /// <summary>Lomuto partition around the median of the first, middle and last entries; returns the pivot's place.</summary>
    private static int Partition(Span<float> v, Span<int> id)
    {
        int last = v.Length - 1, mid = last / 2;
        if (Before(v[mid], id[mid], v[0], id[0])) Swap(v, id, 0, mid);
        if (Before(v[last], id[last], v[0], id[0])) Swap(v, id, 0, last);
        if (Before(v[mid], id[mid], v[last], id[last])) Swap(v, id, mid, last);   // median now at the end
        float pv = v[last];
        int pi = id[last], store = 0;
        for (int j = 0; j < last; j++)
            if (Before(v[j], id[j], pv, pi)) Swap(v, id, store++, j);
        Swap(v, id, store, last);
        return store;
    }

    private static void InsertionSort(Span<float> v, Span<int> id)
    {
        for (int i = 1; i < v.Length; i++)
        {
            float x = v[i];
            int xi = id[i], j = i;
            for (; j > 0 && Before(x, xi, v[j - 1], id[j - 1]); j--)
            {
                v[j] = v[j - 1];
                id[j] = id[j - 1];
            }
            v[j] = x;
            id[j] = xi;
        }
    }

    private static void Swap(Span<float> v, Span<int> id, int a, int b)
    {
        (v[a], v[b]) = (v[b], v[a]);
        (id[a], id[b]) = (id[b], id[a]);
    }
}
