using System.Text.Json;

namespace SeekSharp.Tokenization;

/// <summary>
/// Reads a Hugging Face tokenizer.json with a byte-level BPE model into a <see cref="TokenizerFile"/>. Every
/// problem becomes a <see cref="TokenizerException"/> that names the file and the field.
/// </summary>
internal static class TokenizerJsonReader
{
    public static TokenizerFile Read(string path)
    {
        JsonDocument doc;
        try
        {
            var bytes = File.ReadAllBytes(path);
            // JsonDocument checks UTF-8 only when a string is read (later, by the pipeline), and then throws InvalidOperationException.
            if (!System.Text.Unicode.Utf8.IsValid(bytes))
                throw new TokenizerException($"{path} is not valid UTF-8");
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerException($"{path} is not valid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"cannot read {path}: {e.Message}", e);
        }
        using (doc)
        {
            try
            {
                return Read(doc.RootElement, path);
            }
            catch (InvalidOperationException e)
            {
                // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws this when it is read.
                throw new TokenizerException($"{path} has a string that is not valid UTF-16 once unescaped (a lone surrogate such as \\ud800): {e.Message}", e);
            }
        }
    }

    internal static TokenizerFile Read(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Error(path, "the top level is not a JSON object");
        var model = Required(root, "model", JsonValueKind.Object, path);
        string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
        if (type != "BPE")
            throw Error(path, $"model.type is '{type}'; only byte-level BPE is supported");
        RejectUnsupportedModelOptions(model, path);

        var vocab = ReadVocab(Required(model, "vocab", JsonValueKind.Object, path), path);
        var merges = ReadMerges(Required(model, "merges", JsonValueKind.Array, path), vocab, path, out bool asPairs);
        var added = ReadAddedTokens(root, path);
        return new TokenizerFile
        {
            Vocab = vocab.ById,
            Merges = merges,
            MergesAsPairs = asPairs,
            AddedTokens = added,
            Normalizer = Section(root, "normalizer"),
            PreTokenizer = Section(root, "pre_tokenizer"),
            PostProcessor = Section(root, "post_processor"),
            Decoder = Section(root, "decoder"),
            Truncation = Section(root, "truncation"),
            Padding = Section(root, "padding"),
            UnkToken = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String ? unk.GetString() : null,
            FuseUnk = model.TryGetProperty("fuse_unk", out var fuse) && fuse.ValueKind == JsonValueKind.True,
            IgnoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? im.GetBoolean() : null,
        };
    }

    private static void RejectUnsupportedModelOptions(JsonElement model, string path)
    {
        foreach (var name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
                throw Error(path, $"model.{name} is set; only byte-level BPE without subword affixes is supported");
        if (model.TryGetProperty("dropout", out var d) && d.ValueKind == JsonValueKind.Number && d.GetDouble() > 0)
            throw Error(path, "model.dropout is set; BPE dropout (random encodings) is not supported");
        if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True)
            throw Error(path, "model.byte_fallback is true; that is SentencePiece-style BPE, not byte-level BPE");
        if (model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True)
            throw Error(path, "model.ignore_merges is true; it is not supported");
    }

    private sealed record VocabTable(string?[] ById, Dictionary<string, int> ByToken);

    private static VocabTable ReadVocab(JsonElement vocab, string path)
    {
        var byToken = new Dictionary<string, int>(StringComparer.Ordinal);
        int maxId = -1;
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw Error(path, $"model.vocab['{entry.Name}'] is not a non-negative integer id");
            if (!byToken.TryAdd(entry.Name, id))
                throw Error(path, $"model.vocab lists '{entry.Name}' twice");
            maxId = Math.Max(maxId, id);
        }
        if (maxId >= 16_000_000)
            throw Error(path, $"model.vocab has id {maxId}, implausibly large");
        var byId = new string?[maxId + 1];
        foreach (var (token, id) in byToken)
        {
            if (byId[id] is not null)
                throw Error(path, $"model.vocab gives id {id} to both '{byId[id]}' and '{token}'");
            byId[id] = token;
        }
        return new VocabTable(byId, byToken);
    }

    private static (int, int)[] ReadMerges(JsonElement merges, VocabTable vocab, string path, out bool asPairs)
    {
        var result = new (int, int)[merges.GetArrayLength()];
        asPairs = false;
        int rank = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            string left, right;
            if (merge.ValueKind == JsonValueKind.String)
            {
                string s = merge.GetString()!;
                int space = s.Length < 2 ? -1 : s.IndexOf(' ', 1);   // byte-level tokens never hold a space, but a token may be a lone space
                if (space < 0)
                    throw Error(path, $"model.merges[{rank}] '{s}' is not two tokens separated by a space");
                (left, right) = (s[..space], s[(space + 1)..]);
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                asPairs = true;
                (left, right) = (merge[0].GetString()!, merge[1].GetString()!);
            }
            else
                throw Error(path, $"model.merges[{rank}] is neither \"a b\" nor [\"a\", \"b\"]");
            result[rank] = (Id(left), Id(right));
            if (!vocab.ByToken.ContainsKey(left + right))
                throw Error(path, $"model.merges[{rank}] makes '{left + right}', which is not in model.vocab");
            rank++;

            int Id(string token) => vocab.ByToken.TryGetValue(token, out int id)
                ? id : throw Error(path, $"model.merges[{rank}] uses '{token}', which is not in model.vocab");
        }
        return result;
    }

    private static AddedToken[] ReadAddedTokens(JsonElement root, string path)
    {
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null)
            return [];
        if (list.ValueKind != JsonValueKind.Array)
            throw Error(path, "added_tokens is not an array");
        var result = new List<AddedToken>();
        int i = 0;
        foreach (var t in list.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object
                || !t.TryGetProperty("id", out var id) || !id.TryGetInt32(out int idValue) || idValue < 0
                || !t.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String
                || content.GetString()!.Length == 0)
                throw Error(path, $"added_tokens[{i}] needs a non-negative integer 'id' and a non-empty string 'content'");
            if (idValue >= 16_000_000)   // the same bound as model.vocab's ids: the id table is allocated to the largest
                throw Error(path, $"added_tokens[{i}] has id {idValue}, implausibly large");
            result.Add(new AddedToken(idValue, content.GetString()!,
                Special: Flag(t, "special", false), Normalized: Flag(t, "normalized", true),
                LStrip: Flag(t, "lstrip", false), RStrip: Flag(t, "rstrip", false), SingleWord: Flag(t, "single_word", false)));
            i++;
        }
        return result.ToArray();
    }

    private static bool Flag(JsonElement obj, string name, bool fallback) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    private static JsonElement? Section(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.Clone() : null;

    private static JsonElement Required(JsonElement obj, string name, JsonValueKind kind, string path)
    {
        if (!obj.TryGetProperty(name, out var v))
            throw Error(path, $"'{name}' is missing");
        if (v.ValueKind != kind)
            throw Error(path, $"'{name}' is {v.ValueKind}, expected {kind}");
        return v;
    }

    private static TokenizerException Error(string path, string what) => new($"{path}: {what}");
}
