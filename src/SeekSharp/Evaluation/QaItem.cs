using System.Text.Json;
using SeekSharp.Tokenization;
using SeekSharp.Training.Data;

namespace SeekSharp.Evaluation;

/// <summary>
/// One question of an evaluation set (<c>seeksharp eval --qa FILE.jsonl</c>), one JSON object per line:
/// <c>{"messages": [{"role": "user", "content": "…"}], "references": ["…", …], "scoring": "exact"|"overlap", "kind": "…"}</c>.
/// <c>scoring</c> defaults to overlap and <c>kind</c> (a label to group the results by) to "all"; other fields are kept
/// but not used.
/// </summary>
public sealed record QaItem(IReadOnlyList<ChatMessage> Messages, IReadOnlyList<string> References, ScoringRule Scoring, string Kind)
{
    /// <summary>The last user message: what the answer is scored against.</summary>
    public string Question => Messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";

    /// <exception cref="InvalidInputException">A line that is not an item; the message names the line.</exception>
    public static List<QaItem> ReadJsonl(string path)
    {
        var items = JsonLines.Read(path, "Evaluation file", Parse);
        if (items.Count == 0) throw new InvalidInputException($"{path}: no questions.");
        return items;
    }

    public static QaItem Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Parse(doc.RootElement);
    }

    public static QaItem Parse(JsonElement root)
    {
        var messages = ChatDataset.ParseMessages(root);
        if (messages[^1].Role != "user") throw new InvalidInputException("the last message must be the user's question.");
        if (!root.TryGetProperty("references", out var refs) || refs.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException("expected a \"references\" array of strings.");
        var references = refs.EnumerateArray().Select(r => r.ValueKind == JsonValueKind.String ? r.GetString()!
            : throw new InvalidInputException("\"references\" holds a value that is not a string.")).ToList();
        if (references.Count == 0) throw new InvalidInputException("\"references\" is empty.");
        var rule = ScoringRule.Overlap;
        if (root.TryGetProperty("scoring", out var sc))
            rule = sc.ValueKind == JsonValueKind.String && sc.GetString() is { } s
                ? s switch { "exact" => ScoringRule.Exact, "overlap" => ScoringRule.Overlap, _ => throw new InvalidInputException($"\"scoring\" is \"{s}\"; expected exact or overlap.") }
                : throw new InvalidInputException("\"scoring\" must be a string.");
        string kind = root.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "all";
        return new QaItem(messages, references, rule, kind);
    }
}
