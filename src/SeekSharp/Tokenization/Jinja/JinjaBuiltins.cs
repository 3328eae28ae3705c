using System.Globalization;
using System.Text;

namespace SeekSharp.Tokenization.Jinja;

/// <summary>
/// Operators, attribute and item access, and the functions, filters, tests and methods that chat templates use,
/// with Python's and Jinja's semantics. An unknown name is an error that says which name.
/// </summary>
internal static class JinjaBuiltins
{
    // ------------------------------------------------------------ globals

    public static object? Global(string name) => name switch
    {
        "range" => new JinjaFunction(Range),
        "namespace" => new JinjaFunction((args, kwargs) =>
        {
            var ns = new JinjaNamespace();
            foreach (var a in args)
                if (a is OrderedDictionary<string, object?> d)
                    foreach (var (k, v) in d)
                        ns.Attributes[k] = v;
            foreach (var (k, v) in kwargs)
                ns.Attributes[k] = v;
            return ns;
        }),
        "dict" => new JinjaFunction((args, kwargs) =>
        {
            var d = new OrderedDictionary<string, object?>();
            foreach (var (k, v) in kwargs)
                d[k] = v;
            return d;
        }),
        "raise_exception" => new JinjaFunction((args, _) =>
            throw new JinjaError($"the template raised an exception: {(args.Count > 0 ? JinjaValues.ToStr(args[0]) : "")}")),
        _ => null,
    };

    private static object? Range(List<object?> args, Dictionary<string, object?> kwargs)
    {
        long start = 0, stop, step = 1;
        if (args.Count == 1)
            stop = JinjaValues.ToLong(args[0]);
        else if (args.Count is 2 or 3)
        {
            start = JinjaValues.ToLong(args[0]);
            stop = JinjaValues.ToLong(args[1]);
            if (args.Count == 3)
                step = JinjaValues.ToLong(args[2]);
        }
        else
            throw new JinjaError("range() takes 1 to 3 arguments");
        if (step == 0)
            throw new JinjaError("range() step must not be zero");
        var result = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            result.Add(i);
            if (result.Count > 1_000_000)
                throw new JinjaError("range() is too long");
        }
        return result;
    }

    // ------------------------------------------------------------ access

    private static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get"];
    private static readonly HashSet<string> StringMethods =
        ["strip", "lstrip", "rstrip", "split", "startswith", "endswith", "lower", "upper", "title", "capitalize", "replace", "find", "count", "join", "splitlines"];

    public static object? Get(object? target, object? key, bool isAttribute)
    {
        switch (target)
        {
            case Undefined u:
                throw new JinjaError($"'{u.Name}' is undefined, so it has no {(isAttribute ? "attribute" : "item")} {JinjaValues.Repr(key)}");
            case null:
                return new Undefined($"None.{key}");
            case OrderedDictionary<string, object?> d when key is string k:
                if (isAttribute && DictMethods.Contains(k))
                    return new BoundMethod(d, k);
                if (d.TryGetValue(k, out var value))
                    return value;
                return !isAttribute && DictMethods.Contains(k) ? new BoundMethod(d, k) : new Undefined(k);
            case JinjaNamespace ns when key is string k:
                return ns.Attributes.TryGetValue(k, out var attr) ? attr : new Undefined(k);
            case LoopInfo loop when key is string k:
                return loop.Get(k);
            case string s when key is string k:
                return StringMethods.Contains(k) ? new BoundMethod(s, k) : new Undefined(k);
            case string s when JinjaValues.IsNumber(key) && key is not double:
                var chars = JinjaValues.Iterate(s);
                long si = JinjaValues.ToLong(key);
                si = si < 0 ? si + chars.Count : si;
                return si >= 0 && si < chars.Count ? chars[(int)si] : new Undefined($"[{key}]");
            case List<object?> l when JinjaValues.IsNumber(key) && key is not double:
                long i = JinjaValues.ToLong(key);
                i = i < 0 ? i + l.Count : i;
                return i >= 0 && i < l.Count ? l[(int)i] : new Undefined($"[{key}]");
            default:
                return new Undefined(JinjaValues.ToStr(key));
        }
    }

    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        var items = target switch
        {
            string s => JinjaValues.Iterate(s),
            List<object?> l => l,
            _ => throw new JinjaError($"cannot slice {JinjaValues.TypeName(target)}"),
        };
        long n = items.Count;
        long st = step is null ? 1 : JinjaValues.ToLong(step);
        if (st == 0)
            throw new JinjaError("slice step cannot be zero");
        long Clamp(object? v, long fallback)
        {
            if (v is null)
                return fallback;
            long x = JinjaValues.ToLong(v);
            if (x < 0)
                x += n;
            return st > 0 ? Math.Clamp(x, 0, n) : Math.Clamp(x, -1, n - 1);
        }
        long from = Clamp(start, st > 0 ? 0 : n - 1), to = Clamp(stop, st > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = from; st > 0 ? i < to : i > to; i += st)
            result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    public static object? Call(object? callee, List<object?> args, Dictionary<string, object?> kwargs, Expr calleeExpr)
    {
        return callee switch
        {
            JinjaFunction f => f(args, kwargs),
            BoundMethod m => CallMethod(m, args),
            Undefined u => throw new JinjaError($"'{u.Name}' is undefined and cannot be called (SeekSharp's chat template engine may not support it)"),
            _ => throw new JinjaError($"{JinjaValues.TypeName(callee)} is not callable"),
        };
    }

    private static object? CallMethod(BoundMethod m, List<object?> args)
    {
        object? Arg(int i) => i < args.Count ? args[i] : null;
        string? StrArg(int i) => Arg(i) is null ? null : Arg(i) as string ?? throw new JinjaError($"{m.Name}() expects a string argument");
        switch (m.Target)
        {
            case OrderedDictionary<string, object?> d:
                return m.Name switch
                {
                    "items" => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
                    "keys" => d.Keys.Cast<object?>().ToList(),
                    "values" => d.Values.ToList(),
                    "get" => Arg(0) is string k && d.TryGetValue(k, out var v) ? v : Arg(1),
                    _ => throw new JinjaError($"dict has no method {m.Name}"),
                };
            case string s:
                return m.Name switch
                {
                    "strip" => StrArg(0) is { } c ? s.Trim(c.ToCharArray()) : s.Trim(),
                    "lstrip" => StrArg(0) is { } c ? s.TrimStart(c.ToCharArray()) : s.TrimStart(),
                    "rstrip" => StrArg(0) is { } c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd(),
                    "split" => Split(s, StrArg(0), Arg(1) is null ? -1 : JinjaValues.ToLong(Arg(1))),
                    "splitlines" => s.Split('\n').Select(x => (object?)x.TrimEnd('\r')).ToList(),
                    "startswith" => Arg(0) is List<object?> ps ? ps.Any(p => s.StartsWith((string)p!, StringComparison.Ordinal)) : s.StartsWith(StrArg(0)!, StringComparison.Ordinal),
                    "endswith" => Arg(0) is List<object?> es ? es.Any(p => s.EndsWith((string)p!, StringComparison.Ordinal)) : s.EndsWith(StrArg(0)!, StringComparison.Ordinal),
                    "lower" => s.ToLowerInvariant(),
                    "upper" => s.ToUpperInvariant(),
                    "title" => Title(s),
                    "capitalize" => Capitalize(s),
                    "replace" => Arg(2) is null ? s.Replace(StrArg(0)!, StrArg(1)!, StringComparison.Ordinal) : ReplaceCount(s, StrArg(0)!, StrArg(1)!, JinjaValues.ToLong(Arg(2))),
                    "find" => (long)s.IndexOf(StrArg(0)!, StringComparison.Ordinal),
                    "count" => (long)CountOf(s, StrArg(0)!),
                    "join" => string.Join(s, JinjaValues.Iterate(Arg(0)).Select(JinjaValues.ToStr)),
                    _ => throw new JinjaError($"str has no method {m.Name}"),
                };
            case LoopInfo loop when m.Name == "cycle":
                return args.Count == 0 ? null : args[(int)(JinjaValues.ToLong(loop.Get("index0")) % args.Count)];
            default:
                throw new JinjaError($"{JinjaValues.TypeName(m.Target)} has no method {m.Name}");
        }
    }

    // Python's str.split: no separator splits on runs of white space and drops empty ends.
    private static List<object?> Split(string s, string? sep, long maxSplit)
    {
        if (sep is null)
        {
            var parts = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (maxSplit < 0 || parts.Length <= maxSplit + 1)
                return parts.Cast<object?>().ToList();
            var head = s.TrimStart().Split((char[]?)null, (int)maxSplit + 1, StringSplitOptions.RemoveEmptyEntries);
            return head.Cast<object?>().ToList();
        }
        if (sep.Length == 0)
            throw new JinjaError("split() separator is empty");
        var result = maxSplit < 0 ? s.Split(sep) : s.Split(sep, (int)Math.Min(maxSplit + 1, int.MaxValue));
        return result.Cast<object?>().ToList();
    }

    private static string ReplaceCount(string s, string old, string replacement, long count)
    {
        if (count < 0)
            return s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0)
                break;
            sb.Append(s, pos, at - pos).Append(replacement);
            pos = at + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0)
            return s.Length + 1;
        int count = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            sb.Append(start ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            start = !char.IsLetterOrDigit(c);
        }
        return sb.ToString();
    }

    // ------------------------------------------------------------ operators

    public static object? Binary(string op, object? a, object? b)
    {
        if (op == "~")
            return Concat(JinjaValues.ToStr(a), JinjaValues.ToStr(b));
        if (a is Undefined || b is Undefined)
            throw new JinjaError($"'{((a as Undefined) ?? (Undefined)b!).Name}' is undefined and cannot be used with '{op}'");
        switch (op)
        {
            case "+" when a is string x && b is string y: return Concat(x, y);
            case "+" when a is List<object?> x && b is List<object?> y: return x.Concat(y).ToList();
            case "*" when a is string x && JinjaValues.IsNumber(b) && b is not double:
                {
                    int times = Repeats(x.Length, JinjaValues.ToLong(b), JinjaBudget.MaxStringLength, "a string repeated");
                    return string.Concat(Enumerable.Repeat(x, times));
                }
            case "*" when a is List<object?> x && JinjaValues.IsNumber(b) && b is not double:
                {
                    int times = Repeats(x.Count, JinjaValues.ToLong(b), JinjaBudget.MaxListLength, "a list repeated");
                    return Enumerable.Repeat(x, times).SelectMany(l => l).ToList();
                }
        }
        if (!JinjaValues.IsNumber(a) || !JinjaValues.IsNumber(b))
            throw new JinjaError($"unsupported operand types for {op}: {JinjaValues.TypeName(a)} and {JinjaValues.TypeName(b)}");
        bool integers = a is not double && b is not double;
        if (integers)
        {
            long x = JinjaValues.ToLong(a), y = JinjaValues.ToLong(b);
            switch (op)
            {
                case "+": return x + y;
                case "-": return x - y;
                case "*": return x * y;
                case "//": return y == 0 ? throw new JinjaError("integer division by zero") : (long)Math.Floor((double)x / y);
                case "%": return y == 0 ? throw new JinjaError("integer modulo by zero") : y == -1 ? 0L : ((x % y) + y) % y;   // long.MinValue % -1 overflows
                case "**" when y >= 0: return (long)Math.Pow(x, y);
            }
        }
        double p = JinjaValues.ToDouble(a), q = JinjaValues.ToDouble(b);
        return op switch
        {
            "+" => p + q,
            "-" => p - q,
            "*" => p * q,
            "/" => q == 0 ? throw new JinjaError("division by zero") : p / q,
            "//" => q == 0 ? throw new JinjaError("division by zero") : Math.Floor(p / q),
            "%" => q == 0 ? throw new JinjaError("modulo by zero") : p - q * Math.Floor(p / q),
            "**" => Math.Pow(p, q),
            _ => throw new JinjaError($"unknown operator {op}"),
        };
    }

    private static string Concat(string x, string y)
    {
        JinjaBudget.CheckLength((long)x.Length + y.Length, "a concatenated string");
        return x + y;
    }

    // Python's "s * n": n copies, none for n ≤ 0; the result's size is checked against the limit before it is built.
    private static int Repeats(int length, long times, int max, string what)
    {
        if (times <= 0) return 0;
        if (length == 0) return 1;
        long size = times > max ? times : length * times;   // times ≤ 2^24 and length < 2^31: no overflow
        if (size > max)
            throw new JinjaError($"{what} would be {size:N0} long, over the limit of {max:N0}");
        return (int)times;
    }

    // A pad width (indent, center): negative is none, as in Python; a huge one is an error, not an out-of-memory.
    internal static int Width(long width, string what)
    {
        JinjaBudget.CheckLength(width, what);
        return (int)Math.Max(0, width);
    }

    public static bool Compare(string op, object? a, object? b) => op switch
    {
        "==" => JinjaValues.Equals(a, b),
        "!=" => !JinjaValues.Equals(a, b),
        "<" => JinjaValues.Compare(a, b) < 0,
        ">" => JinjaValues.Compare(a, b) > 0,
        "<=" => JinjaValues.Compare(a, b) <= 0,
        ">=" => JinjaValues.Compare(a, b) >= 0,
        "in" => Contains(b, a),
        "not in" => !Contains(b, a),
        _ => throw new JinjaError($"unknown comparison {op}"),
    };

    private static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new JinjaError($"'in <string>' needs a string on the left, not {JinjaValues.TypeName(item)}"),
        OrderedDictionary<string, object?> d => item is string k && d.ContainsKey(k),
        JinjaNamespace ns => item is string k && ns.Attributes.ContainsKey(k),
        Undefined => false,
        _ => JinjaValues.Iterate(container).Any(x => JinjaValues.Equals(x, item)),
    };

    // ------------------------------------------------------------ tests

    public static bool Test(string name, object? v, List<object?> args) => name switch
    {
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        "none" => v is null,
        "string" => v is string,
        "number" => v is long or double,
        "integer" => v is long,
        "float" => v is double,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "mapping" => v is OrderedDictionary<string, object?>,
        "sequence" => v is string or List<object?> or OrderedDictionary<string, object?>,
        "iterable" => v is string or List<object?> or OrderedDictionary<string, object?>,
        "callable" => v is JinjaFunction or BoundMethod,
        "odd" => JinjaValues.ToLong(v) % 2 != 0,
        "even" => JinjaValues.ToLong(v) % 2 == 0,
        "divisibleby" => JinjaValues.ToLong(v) % JinjaValues.ToLong(Arg(args, 0, name)) == 0,
        "equalto" or "eq" or "sameas" or "==" => JinjaValues.Equals(v, Arg(args, 0, name)),
        "ne" or "!=" => !JinjaValues.Equals(v, Arg(args, 0, name)),
        "lower" => v is string s && s == s.ToLowerInvariant(),
        "upper" => v is string s && s == s.ToUpperInvariant(),
        "in" => Contains(Arg(args, 0, name), v),
        _ => throw new JinjaError($"the test 'is {name}' is not supported by SeekSharp's chat template engine"),
    };

    private static object? Arg(List<object?> args, int i, string what) =>
        i < args.Count ? args[i] : throw new JinjaError($"'{what}' needs an argument");

    // ------------------------------------------------------------ filters

    public static object? Filter(string name, object? v, List<object?> args, Dictionary<string, object?> kwargs)
    {
        object? Opt(int i, string key, object? fallback) =>
            i < args.Count ? args[i] : kwargs.TryGetValue(key, out var kv) ? kv : fallback;
        switch (name)
        {
            case "trim":
                return Opt(0, "chars", null) is string chars ? Str(v).Trim(chars.ToCharArray()) : Str(v).Trim();
            case "length" or "count":
                return v switch
                {
                    string s => (long)JinjaValues.Iterate(s).Count,
                    OrderedDictionary<string, object?> d => (long)d.Count,
                    _ => (long)JinjaValues.Iterate(v).Count,
                };
            case "string": return JinjaValues.ToStr(v);
            case "lower": return Str(v).ToLowerInvariant();
            case "upper": return Str(v).ToUpperInvariant();
            case "title": return Title(Str(v));
            case "capitalize": return Capitalize(Str(v));
            case "safe": return v;
            case "e" or "escape":
                return Str(v).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
            case "default" or "d":
                bool boolean = JinjaValues.IsTruthy(Opt(1, "boolean", false));
                return v is Undefined || (boolean && !JinjaValues.IsTruthy(v)) ? Opt(0, "default_value", "") : v;
            case "join":
                var items = JinjaValues.Iterate(v);
                if (Opt(1, "attribute", null) is string joinAttr)
                    items = items.Select(x => Get(x, joinAttr, isAttribute: false)).ToList();
                return string.Join(Str(Opt(0, "d", "")), items.Select(JinjaValues.ToStr));
            case "first": { var l = JinjaValues.Iterate(v); return l.Count > 0 ? l[0] : new Undefined("first"); }
            case "last": { var l = JinjaValues.Iterate(v); return l.Count > 0 ? l[^1] : new Undefined("last"); }
            case "list": return JinjaValues.Iterate(v).ToList();
            case "reverse": return v is string rs ? string.Concat(JinjaValues.Iterate(rs).Cast<string>().Reverse()) : JinjaValues.Iterate(v).AsEnumerable().Reverse().ToList();
            case "unique":
                var unique = new List<object?>();
                foreach (var x in JinjaValues.Iterate(v))
                    if (!unique.Any(u => JinjaValues.Equals(u, x)))
                        unique.Add(x);
                return unique;
            case "sort":
                var sorted = JinjaValues.Iterate(v).ToList();
                var sortAttr = Opt(2, "attribute", null) as string;
                sorted.Sort((x, y) => JinjaValues.Compare(sortAttr is null ? x : Get(x, sortAttr, false), sortAttr is null ? y : Get(y, sortAttr, false)));
                if (JinjaValues.IsTruthy(Opt(0, "reverse", false)))
                    sorted.Reverse();
                return sorted;
            case "replace":
                return Opt(2, "count", null) is { } count
                    ? ReplaceCount(Str(v), Str(Opt(0, "old", "")), Str(Opt(1, "new", "")), JinjaValues.ToLong(count))
                    : Str(v).Replace(Str(Opt(0, "old", "")), Str(Opt(1, "new", "")), StringComparison.Ordinal);
            case "int":
                return v switch
                {
                    string s => long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long i) ? i : Opt(0, "default", 0L),
                    _ when JinjaValues.IsNumber(v) => JinjaValues.ToLong(v),
                    _ => Opt(0, "default", 0L),
                };
            case "float":
                return v switch
                {
                    string s => double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : Opt(0, "default", 0.0),
                    _ when JinjaValues.IsNumber(v) => JinjaValues.ToDouble(v),
                    _ => Opt(0, "default", 0.0),
                };
            case "abs": return v is long l2 ? (object)Math.Abs(l2) : Math.Abs(JinjaValues.ToDouble(v));
            case "items":
                return v is OrderedDictionary<string, object?> dict
                    ? dict.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()
                    : throw new JinjaError($"items needs a dict, not {JinjaValues.TypeName(v)}");
            case "tojson":
                return JinjaJson.Dumps(v, Opt(0, "indent", null) is { } indent ? Width(JinjaValues.ToLong(indent), "tojson's indent") : null);
            case "indent":
                return Indent(Str(v), Opt(0, "width", 4L), JinjaValues.IsTruthy(Opt(1, "first", false)), JinjaValues.IsTruthy(Opt(2, "blank", false)));
            case "selectattr" or "rejectattr":
                return SelectAttr(v, args, name == "selectattr");
            case "select" or "reject":
                return JinjaValues.Iterate(v).Where(x => (args.Count == 0 ? JinjaValues.IsTruthy(x) : Test(Str(args[0]), x, args.Skip(1).ToList())) == (name == "select")).ToList();
            case "map":
                if (kwargs.TryGetValue("attribute", out var mapAttr))
                    return JinjaValues.Iterate(v).Select(x => Get(x, mapAttr, false) is Undefined && kwargs.TryGetValue("default", out var md) ? md : Get(x, mapAttr, false)).ToList();
                if (args.Count > 0)
                    return JinjaValues.Iterate(v).Select(x => Filter(Str(args[0]), x, args.Skip(1).ToList(), [])).ToList();
                throw new JinjaError("map needs a filter name or attribute=");
            case "wordcount": return (long)Str(v).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            default:
                throw new JinjaError($"the filter '{name}' is not supported by SeekSharp's chat template engine");
        }
    }

    private static object? SelectAttr(object? v, List<object?> args, bool select)
    {
        if (args.Count == 0 || args[0] is not string attr)
            throw new JinjaError("selectattr/rejectattr need an attribute name");
        return JinjaValues.Iterate(v).Where(x =>
        {
            var value = Get(x, attr, isAttribute: false);
            bool pass = args.Count == 1 ? JinjaValues.IsTruthy(value) : Test(Str(args[1]), value, args.Skip(2).ToList());
            return pass == select;
        }).ToList();
    }

    private static string Indent(string s, object? width, bool first, bool blank)
    {
        string pad = width is string w ? w : new string(' ', Width(JinjaValues.ToLong(width), "indent's width"));
        var lines = s.Split('\n');
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            if (i > 0)
                sb.Append('\n');
            bool indent = (i > 0 || first) && (blank || lines[i].Trim().Length > 0);
            sb.Append(indent ? pad : "").Append(lines[i]);
        }
        return sb.ToString();
    }

    private static string Str(object? v) => v as string ?? JinjaValues.ToStr(v);
}
