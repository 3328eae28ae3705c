using System.Globalization;
using System.Text;

namespace SeekSharp.Tokenization.Jinja;

/// <summary>
/// Jinja's "undefined": what a missing variable, key or attribute evaluates to. It prints as nothing, is false, and
/// iterates as empty; using it in arithmetic, or asking it for an attribute, is an error (Jinja's default Undefined,
/// which Hugging Face's chat template environment uses).
/// </summary>
internal sealed class Undefined(string name)
{
    public string Name { get; } = name;
    public override string ToString() => "";
}

/// <summary>The object <c>namespace(...)</c> makes: attributes that a <c>set ns.x = ...</c> inside a loop can change.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new();
}

/// <summary>A built-in function or filter body: positional and keyword arguments in, a value out.</summary>
internal delegate object? JinjaFunction(List<object?> args, Dictionary<string, object?> kwargs);

/// <summary>A method looked up on a value (<c>text.split</c>, <c>message.get</c>), called later.</summary>
internal sealed record BoundMethod(object Target, string Name);

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopInfo(IReadOnlyList<object?> items)
{
    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex0" => (long)(items.Count - Index0 - 1),
        "revindex" => (long)(items.Count - Index0),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("loop.previtem"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new Undefined("loop.nextitem"),
        "cycle" => new BoundMethod(this, "cycle"),
        _ => new Undefined($"loop.{name}"),
    };
}

/// <summary>Python's rules for the values a template handles: truth, equality, ordering, and how each prints.</summary>
internal static class JinjaValues
{
    public static bool IsTruthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long i => i != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        OrderedDictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined)
            return a is Undefined && b is Undefined;
        if (a is null || b is null)
            return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return ToDouble(a) == ToDouble(b);
        return (a, b) switch
        {
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equals(p.First, p.Second)),
            (OrderedDictionary<string, object?> x, OrderedDictionary<string, object?> y) =>
                x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var other) && Equals(kv.Value, other)),
            _ => ReferenceEquals(a, b),
        };
    }

    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
            return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string x && b is string y)
            return string.CompareOrdinal(x, y);
        if (a is List<object?> l && b is List<object?> m)
        {
            for (int i = 0; i < Math.Min(l.Count, m.Count); i++)
            {
                int c = Compare(l[i], m[i]);
                if (c != 0)
                    return c;
            }
            return l.Count.CompareTo(m.Count);
        }
        throw new JinjaError($"cannot compare {TypeName(a)} with {TypeName(b)}");
    }

    // Python: bool is an int subclass, so True + 1 == 2 and True == 1.
    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long i => i,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaError($"{TypeName(v)} is not a number"),
    };

    public static long ToLong(object? v) => v switch
    {
        long i => i,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new JinjaError($"{TypeName(v)} is not an integer"),
    };

    /// <summary>Python's str(): what <c>{{ x }}</c>, <c>~</c> and the string filter produce.</summary>
    public static string ToStr(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's repr(), which is also how lists and dicts print their items.</summary>
    public static string Repr(object? v)
    {
        JinjaBudget.CheckStack();   // a list may hold itself
        JinjaBudget.Spend(1);
        return ReprCore(v);
    }

    private static string ReprCore(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long i => i.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        string s => QuoteRepr(s),
        List<object?> l => "[" + string.Join(", ", l.Select(Repr)) + "]",
        OrderedDictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => QuoteRepr(kv.Key) + ": " + Repr(kv.Value))) + "}",
        JinjaNamespace => "<Namespace>",
        _ => v.ToString() ?? "",
    };

    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
            return "nan";
        if (double.IsInfinity(d))
            return d > 0 ? "inf" : "-inf";
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16)
            return d.ToString("F1", CultureInfo.InvariantCulture);
        return d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
    }

    private static string QuoteRepr(string s)
    {
        JinjaBudget.Spend(s.Length);
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when c == quote => "\\" + c,
                _ => c.ToString(),
            });
        }
        return sb.Append(quote).ToString();
    }

    public static string TypeName(object? v) => v switch
    {
        null => "none",
        Undefined u => $"undefined value '{u.Name}'",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        JinjaNamespace => "namespace",
        _ => v.GetType().Name,
    };

    /// <summary>The items a for loop or a filter iterates over: list items, dict keys, string characters.</summary>
    public static List<object?> Iterate(object? v) => v switch
    {
        null => throw new JinjaError("none is not iterable"),
        Undefined => [],
        List<object?> l => l,
        OrderedDictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => TextElements(s),
        _ => throw new JinjaError($"{TypeName(v)} is not iterable"),
    };

    private static List<object?> TextElements(string s)
    {
        var result = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1)
            result.Add(s.Substring(i, char.IsSurrogatePair(s, i) ? 2 : 1));
        return result;
    }
}

/// <summary>An error while rendering; <see cref="JinjaTemplate"/> adds the template line and wraps it.</summary>
internal sealed class JinjaError(string message) : Exception(message);
