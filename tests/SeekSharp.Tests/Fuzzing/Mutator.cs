using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>One edit of a mutation plan; its numbers are reduced modulo the input's length when applied.</summary>
/// <param name="Kind">Which edit (<see cref="Mutator"/> lists them).</param>
/// <param name="Position">Where, modulo the length of the input (or of the region the edit aims at).</param>
/// <param name="Value">The edit's operand: a bit index, a byte, a table index, a length.</param>
internal readonly record struct Mutation(int Kind, uint Position, uint Value)
{
    public override string ToString() => $"{Mutator.KindName(Kind)}@{Position}:{Value}";
}

/// <summary>
/// Mutates real files into near-misses: the kind of input a corrupt download, a hand edit or an attacker produces.
/// Byte edits (bit flips, random bytes, inserts, deletes, truncation, splices of another seed, duplicated ranges),
/// integer edits (little-endian 1/2/4/8-byte fields and decimal numbers in text set to 0, −1, 2^31, 2^63, …), token
/// inserts from a per-format dictionary (JSON punctuation, Jinja tags), and JSON-aware edits that keep the document
/// well-formed but wrong (a value replaced by null, a huge number, a string, an empty array, a deep nest; a key
/// deleted or duplicated). A plan is a list of <see cref="Mutation"/>s that CsCheck generates and shrinks.
/// </summary>
internal static class Mutator
{
    public const int ByteKinds = 10;      // kinds 0..9 work on bytes
    public const int JsonKinds = 6;       // kinds 100..105 work on a parsed JSON document

    private static readonly string[] Names =
        ["flip", "set", "insert", "delete", "truncate", "splice", "int", "number", "token", "duplicate"];

    private static readonly string[] JsonNames = ["null", "number", "string", "container", "remove", "duplicate"];

    public static string KindName(int kind) =>
        kind >= 200 ? "field" : kind >= 100 ? "json-" + JsonNames[(kind - 100) % JsonKinds] : Names[kind % ByteKinds];

    /// <summary>Integers that break length and offset arithmetic: 0, −1, sign bits, type maxima, just past 2^31 and 2^32.</summary>
    public static readonly long[] InterestingIntegers =
    [
        0, 1, -1, 2, 7, 8, 127, 128, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, int.MaxValue, int.MinValue, (long)int.MaxValue + 1,
        uint.MaxValue, (long)uint.MaxValue + 1, long.MaxValue, long.MinValue, long.MaxValue - 7, 1L << 40, 100_000_000, 100_000_001,
    ];

    /// <summary>Decimal spellings written over a number in text: the integers above plus forms a strict reader must refuse.</summary>
    public static readonly string[] InterestingNumbers =
    [
        "0", "-1", "-0", "1", "2", "65535", "65536", "2147483647", "2147483648", "-2147483648", "4294967295", "4294967296",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999999",
        "1e308", "1e309", "-1e309", "1.5", "0.0000001", "1E2", "NaN", "Infinity", "0x10", "00", "1_000",
    ];

    /// <summary>Tokens for any JSON format.</summary>
    public static readonly string[] JsonTokens =
    [
        "{", "}", "[", "]", "\"", ",", ":", "null", "true", "false", "-", "\\", "\\u0000", "\\ud800", "\"\":", "[[[[[[[[", "]]]]",
        "{\"a\":", "1e999", "/*", "*/", "//", "\n", "\u00e9", "\ufffd",
    ];

    public static Gen<Mutation> ByteMutation { get; } =
        Gen.Select(Gen.Int[0, ByteKinds - 1], Gen.UInt, Gen.UInt, (k, p, v) => new Mutation(k, p, v));

    public static Gen<Mutation> JsonMutation { get; } =
        Gen.Select(Gen.Int[100, 100 + JsonKinds - 1], Gen.UInt, Gen.UInt, (k, p, v) => new Mutation(k, p, v));

    /// <summary>A plan of 1 to <paramref name="maxEdits"/> edits; with <paramref name="json"/>, half the plans start with JSON-aware edits.</summary>
    public static Gen<Mutation[]> Plan(bool json, int maxEdits = 4)
    {
        var bytes = ByteMutation.Array[1, maxEdits];
        if (!json) return bytes;
        var jsonOnly = JsonMutation.Array[1, maxEdits];
        var mixed = Gen.Select(JsonMutation.Array[1, 2], ByteMutation.Array[0, 2], (a, b) => a.Concat(b).ToArray());
        return Gen.OneOf(bytes, jsonOnly, mixed);
    }

    /// <summary>
    /// Applies <paramref name="plan"/> to a copy of <paramref name="seed"/>. <paramref name="others"/> are the other seeds of the
    /// format (spliced in); <paramref name="tokens"/> the format's dictionary. JSON edits are skipped when the input no
    /// longer parses. <paramref name="focus"/> limits byte edits to the first bytes (a header) when set.
    /// </summary>
    public static byte[] Apply(byte[] seed, IReadOnlyList<Mutation> plan, IReadOnlyList<byte[]> others, IReadOnlyList<string> tokens, int? focus = null)
    {
        var data = new List<byte>(seed);
        foreach (var m in plan)
        {
            if (m.Kind >= 100)
            {
                var edited = ApplyJson(data.ToArray(), m);
                if (edited is not null) data = new List<byte>(edited);
                continue;
            }
            ApplyBytes(data, m, others, tokens, focus);
        }
        return data.ToArray();
    }

    private static void ApplyBytes(List<byte> data, Mutation m, IReadOnlyList<byte[]> others, IReadOnlyList<string> tokens, int? focus)
    {
        int span = Math.Max(1, Math.Min(data.Count, focus ?? int.MaxValue));
        int at = data.Count == 0 ? 0 : (int)(m.Position % (uint)span);
        switch (m.Kind % ByteKinds)
        {
            case 0: // flip one bit
                if (data.Count > 0) data[at] ^= (byte)(1 << (int)(m.Value % 8));
                break;
            case 1: // set a random byte
                if (data.Count > 0) data[at] = (byte)m.Value;
                break;
            case 2: // insert 1..8 bytes
                data.InsertRange(Math.Min(at, data.Count), BitConverter.GetBytes((ulong)m.Value * 0x9E3779B97F4A7C15UL).Take(1 + (int)(m.Value % 8)));
                break;
            case 3: // delete 1..64 bytes
                if (data.Count > 0) data.RemoveRange(at, Math.Min(data.Count - at, 1 + (int)(m.Value % 64)));
                break;
            case 4: // truncate
                if (data.Count > 0) data.RemoveRange(at, data.Count - at);
                break;
            case 5: // splice: a range of another seed over this position
                if (others.Count > 0)
                {
                    var other = others[(int)(m.Value % (uint)others.Count)];
                    if (other.Length == 0) break;
                    int from = (int)((m.Value >> 8) % (uint)other.Length);
                    int length = Math.Min(other.Length - from, 1 + (int)((m.Value >> 4) % 256));
                    int overwrite = Math.Min(length, data.Count - Math.Min(at, data.Count));
                    data.RemoveRange(Math.Min(at, data.Count), overwrite);
                    data.InsertRange(Math.Min(at, data.Count), other.AsSpan(from, length).ToArray());
                }
                break;
            case 6: // an interesting little-endian integer of 1, 2, 4 or 8 bytes
                {
                    long value = InterestingIntegers[m.Value % (uint)InterestingIntegers.Length];
                    int width = 1 << (int)((m.Value >> 8) % 4);
                    Span<byte> bytes = stackalloc byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
                    for (int i = 0; i < width && at + i < data.Count; i++) data[at + i] = bytes[i];
                    break;
                }
            case 7: // a decimal number in text replaced by an interesting one
                ReplaceNumber(data, at, InterestingNumbers[m.Value % (uint)InterestingNumbers.Length]);
                break;
            case 8: // a dictionary token inserted
                if (tokens.Count > 0)
                    data.InsertRange(Math.Min(at, data.Count), Encoding.UTF8.GetBytes(tokens[(int)(m.Value % (uint)tokens.Count)]));
                break;
            case 9: // a range duplicated in place
                if (data.Count > 0)
                {
                    int length = Math.Min(data.Count - at, 1 + (int)(m.Value % 512));
                    data.InsertRange(at, data.GetRange(at, length));
                }
                break;
        }
    }

    // Finds the first run of digits at or after `at` (wrapping) and writes `number` over it.
    private static void ReplaceNumber(List<byte> data, int at, string number)
    {
        if (data.Count == 0) return;
        for (int k = 0; k < data.Count; k++)
        {
            int i = (at + k) % data.Count;
            if (data[i] is < (byte)'0' or > (byte)'9') continue;
            while (i > 0 && data[i - 1] is >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'.') i--;
            int end = i;
            while (end < data.Count && data[end] is >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'.' or (byte)'e' or (byte)'E' or (byte)'+') end++;
            data.RemoveRange(i, end - i);
            data.InsertRange(i, Encoding.ASCII.GetBytes(number));
            return;
        }
    }

    // ------------------------------------------------------------------ JSON-aware edits

    // Marks where a nest deeper than System.Text.Json's default depth (64) goes; written as text, since JsonNode cannot hold it.
    private const string DeepMarker = "\u0001deep\u0001";

    private static byte[]? ApplyJson(byte[] input, Mutation m)
    {
        try
        {
            var root = JsonNode.Parse(input, documentOptions: new JsonDocumentOptions { MaxDepth = 512, AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            return root is null ? null : ApplyJson(root, m);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return null;   // not JSON (any more), or a document JsonNode cannot edit (a repeated key): byte edits only
        }
    }

    private static byte[]? ApplyJson(JsonNode root, Mutation m)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes, 0);
        var target = nodes[(int)(m.Position % (uint)nodes.Count)];
        int kind = (m.Kind - 100) % JsonKinds;
        if (kind == 5) return DuplicateKey(root, target);
        if (target == root)
            return kind == 4 ? "{}"u8.ToArray() : Encoding.UTF8.GetBytes(Deepen(Replacement(kind, m.Value)?.ToJsonString() ?? "null"));
        var parent = target.Parent!;
        if (kind == 4)
        {
            if (parent is JsonObject o) o.Remove(target.GetPropertyName());
            else if (parent is JsonArray a) a.RemoveAt(target.GetElementIndex());
        }
        else
        {
            target.ReplaceWith(Replacement(kind, m.Value));
        }
        return Encoding.UTF8.GetBytes(Deepen(root.ToJsonString()));
    }

    private static string Deepen(string json) =>
        json.Replace(JsonSerializer.Serialize(DeepMarker), new string('[', 100) + new string(']', 100), StringComparison.Ordinal);

    private static void Collect(JsonNode node, List<JsonNode> nodes, int depth)
    {
        nodes.Add(node);
        if (depth > 64) return;
        switch (node)
        {
            case JsonObject o: foreach (var (_, child) in o) if (child is not null) Collect(child, nodes, depth + 1); break;
            case JsonArray a: foreach (var child in a) if (child is not null) Collect(child, nodes, depth + 1); break;
        }
    }

    private static JsonNode? Replacement(int kind, uint value) => kind switch
    {
        0 => null,
        1 => JsonNode.Parse(InterestingNumbers[value % (uint)InterestingNumbers.Length] switch
        {
            "NaN" or "Infinity" or "0x10" or "00" or "1_000" or "1e309" or "-1e309" => "1e300",
            var n => n,
        }),
        2 => JsonValue.Create(InterestingStrings[value % (uint)InterestingStrings.Length]),
        _ => (value % 5) switch
        {
            0 => new JsonArray(),
            1 => new JsonObject(),
            2 => JsonValue.Create(DeepMarker),
            3 => new JsonArray(JsonValue.Create(-1), JsonValue.Create(long.MaxValue)),
            _ => new JsonObject { ["x"] = JsonValue.Create(1) },
        },
    };

    private static readonly string[] InterestingStrings =
        ["", " ", "a", "\0", "F32", "BF16", "F8_E4M3", "I64", "../../etc/passwd", "/", "model.safetensors", "%s%n", "{{", "{%", "\ud83d\ude00", new string('x', 10_000)];

    // Writes the document with one key of `target`'s object (or its parent's) written twice: JSON allows it, readers differ.
    private static byte[]? DuplicateKey(JsonNode root, JsonNode target)
    {
        var obj = target as JsonObject ?? target.Parent as JsonObject;
        if (obj is null || obj.Count == 0) return null;
        var (name, value) = obj.First();
        string text = root.ToJsonString();
        string inner = obj.ToJsonString();
        if (inner.Length < 2) return null;
        string doubled = "{" + JsonSerializer.Serialize(name) + ":" + (value?.ToJsonString() ?? "null") + "," + inner[1..];
        int index = text.IndexOf(inner, StringComparison.Ordinal);
        return index < 0 ? null : Encoding.UTF8.GetBytes(text[..index] + doubled + text[(index + inner.Length)..]);
    }
}
