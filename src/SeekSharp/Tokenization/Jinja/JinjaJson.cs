using System.Globalization;
using System.Text;

namespace SeekSharp.Tokenization.Jinja;

/// <summary>
/// The tojson filter as Hugging Face defines it for chat templates: Python's <c>json.dumps(x, ensure_ascii=False)</c>,
/// so ", " and ": " separators on one line, or "," and ": " with newlines and the given indent.
/// </summary>
internal static class JinjaJson
{
    public static string Dumps(object? value, int? indent)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, int? indent, int depth)
    {
        JinjaBudget.CheckStack();   // a list may hold itself
        JinjaBudget.CheckLength(sb.Length, "tojson's output");
        switch (v)
        {
            case null or Undefined: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(double.IsFinite(d) ? JinjaValues.FormatFloat(d) : d > 0 ? "Infinity" : d < 0 ? "-Infinity" : "NaN"); break;
            case string s: WriteString(sb, s); break;
            case List<object?> l: WriteContainer(sb, l, indent, depth, '[', ']', (x, d2) => Write(sb, x, indent, d2)); break;
            case OrderedDictionary<string, object?> d:
                WriteContainer(sb, d.ToList(), indent, depth, '{', '}', (kv, d2) =>
                {
                    WriteString(sb, kv.Key);
                    sb.Append(": ");
                    Write(sb, kv.Value, indent, d2);
                });
                break;
            case JinjaNamespace ns:
                var asDict = new OrderedDictionary<string, object?>();
                foreach (var (k, x) in ns.Attributes)
                    asDict[k] = x;
                Write(sb, asDict, indent, depth);
                break;
            default: throw new JinjaError($"{JinjaValues.TypeName(v)} cannot be written as JSON");
        }
    }

    private static void WriteContainer<T>(StringBuilder sb, IList<T> items, int? indent, int depth, char open, char close, Action<T, int> writeItem)
    {
        sb.Append(open);
        if (items.Count == 0)
        {
            sb.Append(close);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0)
                sb.Append(indent is null ? ", " : ",");
            if (indent is int n)
                sb.Append('\n').Append(' ', JinjaBuiltins.Width((long)n * (depth + 1), "tojson's indent"));
            writeItem(items[i], depth + 1);
        }
        if (indent is int m)
            sb.Append('\n').Append(' ', JinjaBuiltins.Width((long)m * depth, "tojson's indent"));
        sb.Append(close);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20)
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
