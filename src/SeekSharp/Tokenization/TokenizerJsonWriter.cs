using System.Text.Encodings.Web;
using System.Text.Json;

namespace SeekSharp.Tokenization;

/// <summary>
/// Writes a <see cref="TokenizerFile"/> as a Hugging Face tokenizer.json (keys in the order Hugging Face writes
/// them, non-ASCII text unescaped), to a temporary name first and then renamed over the target.
/// </summary>
internal static class TokenizerJsonWriter
{
    internal static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(TokenizerFile file, string path)
    {
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, Options);
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            WriteSection(w, "truncation", file.Truncation);
            WriteSection(w, "padding", file.Padding);
            WriteAddedTokens(w, file.AddedTokens);
            WriteSection(w, "normalizer", file.Normalizer);
            WriteSection(w, "pre_tokenizer", file.PreTokenizer);
            WriteSection(w, "post_processor", file.PostProcessor);
            WriteSection(w, "decoder", file.Decoder);
            WriteModel(w, file);
            w.WriteEndObject();
        });
    }

    private static void WriteAddedTokens(Utf8JsonWriter w, AddedToken[] tokens)
    {
        w.WriteStartArray("added_tokens");
        foreach (var t in tokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", t.Id);
            w.WriteString("content", t.Content);
            w.WriteBoolean("single_word", t.SingleWord);
            w.WriteBoolean("lstrip", t.LStrip);
            w.WriteBoolean("rstrip", t.RStrip);
            w.WriteBoolean("normalized", t.Normalized);
            w.WriteBoolean("special", t.Special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteModel(Utf8JsonWriter w, TokenizerFile file)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        if (file.UnkToken is null)
            w.WriteNull("unk_token");
        else
            w.WriteString("unk_token", file.UnkToken);
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", file.FuseUnk);
        w.WriteBoolean("byte_fallback", false);
        if (file.IgnoreMerges is bool ignore)
            w.WriteBoolean("ignore_merges", ignore);
        w.WriteStartObject("vocab");
        for (int id = 0; id < file.Vocab.Length; id++)
            if (file.Vocab[id] is { } token)
                w.WriteNumber(token, id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in file.Merges)
        {
            if (file.MergesAsPairs)
            {
                w.WriteStartArray();
                w.WriteStringValue(file.Vocab[left]);
                w.WriteStringValue(file.Vocab[right]);
                w.WriteEndArray();
            }
            else
                w.WriteStringValue($"{file.Vocab[left]} {file.Vocab[right]}");
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteSection(Utf8JsonWriter w, string name, JsonElement? section)
    {
        w.WritePropertyName(name);
        if (section is { } s)
            s.WriteTo(w);
        else
            w.WriteNullValue();
    }
}
