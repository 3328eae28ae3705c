namespace SeekSharp.Inference.Structured;

/// <summary>
/// Where a JSON text stands in a <see cref="JsonGrammar"/>: a stack of open values (a pushdown automaton over bytes),
/// immutable, so that trying a token's bytes from one state leaves it as it was. <see cref="Feed(byte)"/> gives the
/// state after a byte, or null when no valid text continues with it.
/// </summary>
public sealed class JsonGrammarState
{
    private readonly JsonGrammar _grammar;
    private readonly Frames? _stack;
    private readonly bool _started;

    private JsonGrammarState(JsonGrammar grammar, Frames? stack, bool started)
    {
        _grammar = grammar;
        _stack = stack;
        _started = started;
    }

    internal static JsonGrammarState Initial(JsonGrammar grammar) => new(grammar, null, false);

    /// <summary>The value is complete and nothing may follow it.</summary>
    public bool IsComplete => _started && _stack is null;

    /// <summary>The text so far is a complete value (it may stop here), though a number at the root could go on.</summary>
    public bool CanStop => IsComplete || (_stack is { Rest: null } s && s.Top.CanEnd);

    /// <summary>The fewest bytes that complete the value from here.</summary>
    public int MinBytesToFinish
    {
        get
        {
            if (!_started) return _grammar.Root.MinBytes;
            int sum = 0;
            for (var s = _stack; s is not null; s = s.Rest) sum += s.Top.MinBytesToFinish;
            return sum;
        }
    }

    public JsonGrammarState? Feed(byte b)
    {
        var limits = _grammar.Limits;
        if (!_started)
        {
            var root = JsonFrame.Start(_grammar.Root, b, limits);
            if (root is null) return null;
            return new JsonGrammarState(_grammar, root.Done ? null : new Frames(root, null), true);
        }
        var stack = _stack;
        while (stack is not null)
        {
            var (next, child) = stack.Top.Feed(b);
            if (next is null)
            {
                if (!stack.Top.CanEnd) return null;
                stack = stack.Rest;         // a number or constant ended: the byte is its parent's
                continue;
            }
            stack = next.Done ? stack.Rest : new Frames(next, stack.Rest);
            if (child is not null && !child.Done) stack = new Frames(child, stack);
            return new JsonGrammarState(_grammar, stack, true);
        }
        return null;
    }

    public JsonGrammarState? Feed(ReadOnlySpan<byte> bytes)
    {
        var state = this;
        foreach (byte b in bytes)
        {
            state = state.Feed(b);
            if (state is null) return null;
        }
        return state;
    }

    private sealed record Frames(JsonFrame Top, Frames? Rest);
}
