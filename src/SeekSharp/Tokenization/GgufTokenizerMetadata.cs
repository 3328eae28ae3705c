using System.Text.Json;
using SeekSharp.Formats.Gguf;

namespace SeekSharp.Tokenization;

/// <summary>
/// A tokenizer in GGUF metadata (docs/gguf.md §Tokenizer): llama.cpp's <c>tokenizer.ggml.*</c> keys (byte-level BPE
/// "gpt2", tokens in the GPT-2 byte alphabet, token types, merges, BOS/EOS, chat template), plus the model folder's
/// tokenizer.json and tokenizer_config.json verbatim under <see cref="JsonKey"/> and <see cref="ConfigJsonKey"/>, which
/// SeekSharp reads back (the llama.cpp keys do not carry the normaliser, pre-tokeniser and added-token options).
/// </summary>
public static class GgufTokenizerMetadata
{
    public const string JsonKey = "seeksharp.tokenizer_json";
    public const string ConfigJsonKey = "seeksharp.tokenizer_config_json";

    /// <summary>The keys for the tokenizer in <paramref name="folder"/>, its token list padded to <paramref name="vocabSize"/>.</summary>
    public static List<KeyValuePair<string, object>> Build(string folder, int vocabSize)
    {
        string jsonPath = Path.Combine(folder, "tokenizer.json"), configPath = Path.Combine(folder, "tokenizer_config.json");
        var tok = Tokenizer.Load(folder);
        if (tok.VocabSize > vocabSize)
            throw new TokenizerException($"{jsonPath} has {tok.VocabSize} tokens, more than the model's vocab_size {vocabSize}.");
        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        var added = tok.AddedTokens.ToDictionary(t => t.Id);
        for (int id = 0; id < vocabSize; id++)
        {
            string? t = tok.IdToToken(id);
            tokens[id] = t ?? $"[PAD{id}]";
            types[id] = t is null ? 5 : added.TryGetValue(id, out var a) ? a.Special ? 3 : 4 : 1;
        }
        var file = tok.JsonFile;
        var merges = file.Merges.Select(m => $"{file.Vocab[m.Left]} {file.Vocab[m.Right]}").ToArray();
        var m = new List<KeyValuePair<string, object>>
        {
            new("tokenizer.ggml.model", "gpt2"),
            new("tokenizer.ggml.pre", tok.UsesDeepSeekPreTokenizer ? "deepseek-v3" : "default"),
            new("tokenizer.ggml.tokens", tokens),
            new("tokenizer.ggml.token_type", types),
            new("tokenizer.ggml.merges", merges),
        };
        if (tok.BosId is { } bos) m.Add(new("tokenizer.ggml.bos_token_id", (uint)bos));
        if (tok.EosId is { } eos) m.Add(new("tokenizer.ggml.eos_token_id", (uint)eos));
        if (tok.PadId is { } pad) m.Add(new("tokenizer.ggml.padding_token_id", (uint)pad));
        m.Add(new("tokenizer.ggml.add_bos_token", tok.AddBosToken));
        m.Add(new("tokenizer.ggml.add_eos_token", tok.ConfigFile.AddEosToken));
        if (tok.ConfigFile.ChatTemplate is { } template) m.Add(new("tokenizer.chat_template", template));
        m.Add(new(JsonKey, File.ReadAllText(jsonPath)));
        if (File.Exists(configPath)) m.Add(new(ConfigJsonKey, File.ReadAllText(configPath)));
        return m;
    }

    /// <summary>Whether <paramref name="file"/> carries a tokenizer SeekSharp can load.</summary>
    public static bool HasTokenizer(GgufFile file) => file.Metadata.ContainsKey(JsonKey);

    /// <summary>The tokenizer stored in <paramref name="file"/>; a <see cref="TokenizerException"/> when it has none SeekSharp can use.</summary>
    public static Tokenizer Load(GgufFile file)
    {
        string source = $"{file.Path} ({JsonKey})";
        if (!file.Metadata.TryGetValue(JsonKey, out var json) || json is not string text)
            throw new TokenizerException($"{file.Path} has no {JsonKey} (only GGUFs written by 'seeksharp export gguf' carry one); give the tokenizer folder with --tokenizer.");
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256 });
            var tf = TokenizerJsonReader.Read(doc.RootElement, source);
            // Read as a file's would be: a key written twice or an escaped lone surrogate is a TokenizerException there too.
            var config = file.Metadata.TryGetValue(ConfigJsonKey, out var c) && c is string configText
                ? TokenizerConfig.Parse(System.Text.Encoding.UTF8.GetBytes(configText), $"{file.Path} ({ConfigJsonKey})")
                : TokenizerConfig.Empty;
            return new Tokenizer(tf, config, source);
        }
        catch (JsonException e)
        {
            throw new TokenizerException($"{source} is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws this when it is read.
            throw new TokenizerException($"{source} has a string that is not valid UTF-16 once unescaped (a lone surrogate such as \\ud800): {e.Message}", e);
        }
    }

    /// <summary>Loads the tokenizer of a GGUF file on disk.</summary>
    public static Tokenizer Load(string path)
    {
        using var file = GgufFile.Open(path);
        return Load(file);
    }
}
