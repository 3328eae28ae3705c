namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// Indices of the k largest values. Ties go to the lower index, NaN never wins, and the result is sorted by
/// descending value, so the choice is deterministic.
/// </summary>
public static class TopK
{
    public static void Select(ReadOnlySpan<float> values, int k, Span<int> indices)
    {
        if (k < 0 || k > values.Length) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} of {values.Length} values.");
        if (indices.Length < k) throw new ArgumentException("TopK: index buffer too short.");
        if (k == 0) return;
        // Insertion into a sorted list of k: k is small (8 experts, 4 groups, a sampler's top-k) and n is at most
        // a vocabulary, so the common case is one comparison per element against the current k-th value.
        int count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (float.IsNaN(v)) continue;
            if (count == k && !(v > values[indices[k - 1]])) continue;
            int pos = count == k ? k - 1 : count++;
            while (pos > 0 && v > values[indices[pos - 1]])
            {
                indices[pos] = indices[pos - 1];
                pos--;
            }
            indices[pos] = i;
        }
        if (count < k)
        {
            // Fewer than k non-NaN values: fill with the remaining (NaN) indices in order.
            for (int i = 0; i < values.Length && count < k; i++)
                if (float.IsNaN(values[i])) indices[count++] = i;
        }
    }

    public static void Reference(ReadOnlySpan<float> values, int k, Span<int> indices)
    {
        var order = Enumerable.Range(0, values.Length).ToArray();
        var copy = values.ToArray();
        Array.Sort(order, (a, b) =>
        {
            bool na = float.IsNaN(copy[a]), nb = float.IsNaN(copy[b]);
            if (na != nb) return na ? 1 : -1;
            int c = copy[b].CompareTo(copy[a]);
            return c != 0 ? c : a.CompareTo(b);
        });
        order.AsSpan(0, k).CopyTo(indices);
    }
}
