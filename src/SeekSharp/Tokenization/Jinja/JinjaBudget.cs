using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization.Jinja;

/// <summary>
/// Bounds on one render, so that a template (a tokenizer_config.json is data) cannot hang the process, exhaust its
/// memory or overflow its stack: loop iterations and the size of built values count as work; strings and the output are
/// capped in length; macro calls in depth; and every evaluation step checks that the stack has room
/// (<see cref="RuntimeHelpers.EnsureSufficientExecutionStack"/>, which a deep template turns into a
/// <see cref="JinjaError"/>, not a crash). Real chat templates stay orders of magnitude below each bound.
/// </summary>
internal sealed class JinjaBudget
{
    /// <summary>Characters in any string a template builds, its output included (32 MB of UTF-16).</summary>
    public const int MaxStringLength = 1 << 24;

    /// <summary>Items in any list a template builds (range() had its own cap of a million already).</summary>
    public const int MaxListLength = 1 << 20;

    /// <summary>
    /// Loop iterations, values printed, and characters and items built, over one render: well under a second of work.
    /// DeepSeek-V3's template renders a conversation of 1,000 messages and a million characters within it (a test checks).
    /// </summary>
    public const long MaxWork = 5_000_000;

    /// <summary>Nested macro calls (a macro that calls itself without end).</summary>
    public const int MaxCallDepth = 100;

    [ThreadStatic] private static JinjaBudget? _current;

    private long _work;
    private int _depth;

    /// <summary>Starts a render's budget on this thread; dispose the result when the render ends.</summary>
    public static Scope Begin()
    {
        var previous = _current;
        _current = new JinjaBudget();
        return new Scope(previous);
    }

    public readonly struct Scope(JinjaBudget? previous) : IDisposable
    {
        public void Dispose() => _current = previous;
    }

    /// <summary>Counts <paramref name="units"/> of work (an iteration, or the characters or items of a value built).</summary>
    public static void Spend(long units)
    {
        if (_current is { } budget && (budget._work += units) > MaxWork)
            throw new JinjaError($"the template does too much work (over {MaxWork:N0} loop iterations and built characters): a runaway loop?");
    }

    /// <summary>Throws before a string of <paramref name="length"/> characters is built, if it would be too long.</summary>
    public static void CheckLength(long length, string what)
    {
        if (length > MaxStringLength)
            throw new JinjaError($"{what} would be {length:N0} characters long, over the {MaxStringLength:N0}-character limit");
    }

    /// <summary>Checks a value just built: its size is counted as work and bounded.</summary>
    public static object? Built(object? value)
    {
        switch (value)
        {
            case string s:
                CheckLength(s.Length, "a string");
                Spend(s.Length);
                break;
            case List<object?> list:
                if (list.Count > MaxListLength)
                    throw new JinjaError($"a list of {list.Count:N0} items is over the {MaxListLength:N0}-item limit");
                Spend(list.Count);
                break;
        }
        return value;
    }

    /// <summary>Enters a macro call; dispose to leave it.</summary>
    public static Call EnterCall(string name)
    {
        if (_current is { } budget && ++budget._depth > MaxCallDepth)
        {
            budget._depth--;
            throw new JinjaError($"macro '{name}' nests more than {MaxCallDepth} calls deep: endless recursion?");
        }
        return new Call(_current);
    }

    public readonly struct Call(JinjaBudget? budget) : IDisposable
    {
        public void Dispose()
        {
            if (budget is not null) budget._depth--;
        }
    }

    /// <summary>Throws a <see cref="JinjaError"/> when the stack is close to full (a deeply nested template or value).</summary>
    public static void CheckStack()
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new JinjaError("the template nests too deeply to evaluate");
    }
}
