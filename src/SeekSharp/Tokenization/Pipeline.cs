using System.Text.Json;

namespace SeekSharp.Tokenization;

/// <summary>
/// Turns tokenizer.json's normalizer, pre-tokenizer and decoder sections into what SeekSharp runs, refusing what
/// it does not implement with an error that names the section: a tokenizer that silently encodes differently from
/// Hugging Face would be worse than none.
/// </summary>
internal static class Pipeline
{
    /// <summary>
    /// DeepSeek-V3's split patterns get the hand-written <see cref="DeepSeekPreTokenizer"/>; any other sequence of
    /// Isolated regex splits runs on .NET's Regex. The sequence must end in a ByteLevel step, as byte-level BPE needs.
    /// </summary>
    public static PreTokenizer CreatePreTokenizer(JsonElement? section, string source)
    {
        var steps = new List<JsonElement>();
        if (section is { } s)
            Flatten(s, "pretokenizers", steps);
        if (steps.Count == 0 || Type(steps[^1]) != "ByteLevel")
            throw new TokenizerException($"{source}: pre_tokenizer does not end in a ByteLevel step; only byte-level BPE is supported");
        var patterns = new List<string>();
        foreach (var step in steps)
        {
            string type = Type(step);
            if (type == "Split")
                patterns.Add(SplitPattern(step, source));
            else if (type == "ByteLevel")
            {
                if (Bool(step, "add_prefix_space", false))
                    throw new TokenizerException($"{source}: pre_tokenizer ByteLevel with add_prefix_space=true is not supported");
                if (Bool(step, "use_regex", true))
                    patterns.Add(RegexPreTokenizer.Gpt2Pattern);
            }
            else
                throw new TokenizerException($"{source}: pre_tokenizer step '{type}' is not supported (Split and ByteLevel are)");
        }
        if (patterns.SequenceEqual(DeepSeekPreTokenizer.Patterns))
            return DeepSeekPreTokenizer.Instance;
        return new RegexPreTokenizer(patterns);
    }

    /// <summary>Only the identity normalizer (none, or an empty sequence) is supported.</summary>
    public static void CheckNormalizer(JsonElement? section, string source)
    {
        var steps = new List<JsonElement>();
        if (section is { } s)
            Flatten(s, "normalizers", steps);
        if (steps.Count > 0)
            throw new TokenizerException($"{source}: normalizer '{Type(steps[0])}' is not supported; only an empty normalizer is");
    }

    /// <summary>Decoding maps byte-level characters back to bytes, so the decoder must be ByteLevel.</summary>
    public static void CheckDecoder(JsonElement? section, string source)
    {
        var steps = new List<JsonElement>();
        if (section is { } s)
            Flatten(s, "decoders", steps);
        if (steps.Count == 0 || steps.Any(d => Type(d) != "ByteLevel"))
            throw new TokenizerException($"{source}: decoder must be ByteLevel, found {(steps.Count == 0 ? "none" : string.Join(", ", steps.Select(Type)))}");
    }

    private static string SplitPattern(JsonElement step, string source)
    {
        string behavior = step.TryGetProperty("behavior", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString()! : "";
        if (behavior != "Isolated" || Bool(step, "invert", false))
            throw new TokenizerException($"{source}: pre_tokenizer Split with behavior '{behavior}'{(Bool(step, "invert", false) ? " inverted" : "")} is not supported; only Isolated is");
        if (!step.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
            throw new TokenizerException($"{source}: pre_tokenizer Split has no pattern object");
        if (pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
            return regex.GetString()!;
        if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
            return System.Text.RegularExpressions.Regex.Escape(literal.GetString()!);
        throw new TokenizerException($"{source}: pre_tokenizer Split pattern is neither {{\"Regex\": ...}} nor {{\"String\": ...}}");
    }

    // A "Sequence" holds its steps in a list named after the section ("pretokenizers", "normalizers", "decoders").
    private static void Flatten(JsonElement element, string listName, List<JsonElement> into)
    {
        if (element.ValueKind == JsonValueKind.Null)
            return;
        if (element.ValueKind != JsonValueKind.Object)
            throw new TokenizerException($"a {listName} entry is not a JSON object");
        if (Type(element) == "Sequence")
        {
            if (!element.TryGetProperty(listName, out var list) || list.ValueKind != JsonValueKind.Array)
                throw new TokenizerException($"a Sequence has no '{listName}' list");
            foreach (var child in list.EnumerateArray())
                Flatten(child, listName, into);
        }
        else
            into.Add(element);
    }

    private static string Type(JsonElement e) =>
        e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "(no type)";

    private static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
}
