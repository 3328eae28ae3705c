using System.Text.Json;
using System.Text.Json.Nodes;

namespace SeekSharp.Tokenization;

/// <summary>
/// The parts of a Hugging Face tokenizer_config.json SeekSharp uses: the BOS/EOS/pad token strings, whether BOS
/// is added, and the chat template. The whole JSON object is kept so that saving writes back every other field.
/// </summary>
internal sealed class TokenizerConfig
{
    public TokenizerConfig(JsonObject json, string source)
    {
        Json = json;
        BosToken = TokenString(json, "bos_token", source);
        EosToken = TokenString(json, "eos_token", source);
        PadToken = TokenString(json, "pad_token", source);
        AddBosToken = Bool(json, "add_bos_token", source);
        AddEosToken = Bool(json, "add_eos_token", source);
        ChatTemplate = ReadChatTemplate(json, source);
    }

    public static TokenizerConfig Empty => new(new JsonObject(), "(none)");

    public JsonObject Json { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    public string? PadToken { get; }
    public bool AddBosToken { get; }
    public bool AddEosToken { get; }
    public string? ChatTemplate { get; }

    public static TokenizerConfig Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"cannot read {path}: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>A tokenizer_config.json document (a file's bytes, or one stored in a GGUF); <paramref name="path"/> names it in errors.</summary>
    public static TokenizerConfig Parse(byte[] bytes, string path)
    {
        try
        {
            if (!System.Text.Unicode.Utf8.IsValid(bytes))   // JsonNode checks UTF-8 only when a string is read
                throw new TokenizerException($"{path} is not valid UTF-8");
            var node = JsonNode.Parse(bytes);
            if (node is not JsonObject obj)
                throw new TokenizerException($"{path}: the top level is not a JSON object");
            return new TokenizerConfig(obj, path);
        }
        catch (JsonException e)
        {
            throw new TokenizerException($"{path} is not valid JSON: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            // JsonObject throws this for a key written twice ({"bos_token": "a", "bos_token": "b"}), which JSON allows.
            throw new TokenizerException($"{path} names a key twice: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws this when it is read.
            throw new TokenizerException($"{path} has a string that is not valid UTF-16 once unescaped (a lone surrogate such as \\ud800): {e.Message}", e);
        }
    }

    public void Write(string path)
    {
        AtomicFile.Write(path, stream =>
        {
            using var writer = new Utf8JsonWriter(stream, TokenizerJsonWriter.Options);
            Json.WriteTo(writer);
        });
    }

    // A special token is written either as a plain string or as {"__type": "AddedToken", "content": ...}.
    private static string? TokenString(JsonObject json, string name, string source)
    {
        var node = json[name];
        return node switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonObject o when o["content"] is JsonValue c && c.TryGetValue(out string? s) => s,
            _ => throw new TokenizerException($"{source}: '{name}' is neither a string nor an object with a string 'content'"),
        };
    }

    private static bool Bool(JsonObject json, string name, string source) => json[name] switch
    {
        null => false,
        JsonValue v when v.TryGetValue(out bool b) => b,
        _ => throw new TokenizerException($"{source}: '{name}' is not true or false"),
    };

    // "chat_template" is a string, or a list of {"name", "template"} of which "default" is the chat template.
    private static string? ReadChatTemplate(JsonObject json, string source)
    {
        switch (json["chat_template"])
        {
            case null:
                return null;
            case JsonValue v when v.TryGetValue(out string? s):
                return s;
            case JsonArray list:
                foreach (var item in list)
                    if (item is JsonObject o && o["name"] is JsonValue n && n.TryGetValue(out string? name) && name == "default"
                        && o["template"] is JsonValue t
                        && t.TryGetValue(out string? template))
                        return template;
                throw new TokenizerException($"{source}: 'chat_template' is a list without a template named 'default'");
            default:
                throw new TokenizerException($"{source}: 'chat_template' is neither a string nor a list of named templates");
        }
    }
}
