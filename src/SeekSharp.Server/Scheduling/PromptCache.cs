using SeekSharp.Inference;

namespace SeekSharp.Server.Scheduling;

/// <summary>
/// The sequences of finished requests, least recently used first out, within a byte budget. A new prompt that shares a
/// prefix with one of them (the same system prompt, the earlier turns of a conversation) starts from a fork of it
/// instead of prefilling that prefix again. Used by the scheduler thread only.
/// </summary>
internal sealed class PromptCache(long budgetBytes, Func<Sequence, long> bytesOf)
{
    private readonly LinkedList<(Sequence Sequence, long Bytes)> _entries = new();   // most recently used first

    public long Bytes { get; private set; }
    public int Count => _entries.Count;
    public long BudgetBytes => budgetBytes;

    /// <summary>
    /// The cached sequence sharing the longest prefix with <paramref name="prompt"/> and that prefix's length, at most
    /// <paramref name="maxLength"/> (keep a prompt token to compute fresh logits from); (null, 0) when none shares any.
    /// </summary>
    public (Sequence? Source, int Length) Match(ReadOnlySpan<int> prompt, int maxLength)
    {
        LinkedListNode<(Sequence Sequence, long Bytes)>? best = null;
        int bestLength = 0;
        for (var node = _entries.First; node is not null; node = node.Next)
        {
            int n = CommonPrefix(node.Value.Sequence.Tokens, prompt, maxLength);
            if (n > bestLength) (best, bestLength) = (node, n);
        }
        if (best is null) return (null, 0);
        _entries.Remove(best);
        _entries.AddFirst(best);
        return (best.Value.Sequence, bestLength);
    }

    /// <summary>
    /// Keeps <paramref name="sequence"/> (it must not change afterwards). Entries it extends are dropped (it holds
    /// them); if an entry already holds all of it, that one is kept instead. The oldest go until the budget is met.
    /// </summary>
    public void Add(Sequence sequence)
    {
        if (sequence.Length == 0) return;
        long bytes = bytesOf(sequence);
        if (bytes > budgetBytes) return;
        for (var node = _entries.First; node is not null;)
        {
            var next = node.Next;
            var held = node.Value.Sequence;
            if (held.Length >= sequence.Length && CommonPrefix(held.Tokens, sequence.Tokens, sequence.Length) == sequence.Length)
            {
                _entries.Remove(node);
                _entries.AddFirst(node);
                return;
            }
            if (held.Length < sequence.Length && CommonPrefix(sequence.Tokens, held.Tokens, held.Length) == held.Length)
            {
                _entries.Remove(node);
                Bytes -= node.Value.Bytes;
            }
            node = next;
        }
        _entries.AddFirst((sequence, bytes));
        Bytes += bytes;
        while (Bytes > budgetBytes && _entries.Last is { } last)
        {
            _entries.RemoveLast();
            Bytes -= last.Value.Bytes;
        }
    }

    private static int CommonPrefix(IReadOnlyList<int> held, ReadOnlySpan<int> prompt, int max)
    {
        int n = Math.Min(Math.Min(held.Count, prompt.Length), max), i = 0;
        while (i < n && held[i] == prompt[i]) i++;
        return i;
    }

    private static int CommonPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b, int max)
    {
        int n = Math.Min(Math.Min(a.Count, b.Count), max), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
