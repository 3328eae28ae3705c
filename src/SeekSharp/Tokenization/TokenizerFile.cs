using System.Text.Json;

namespace SeekSharp.Tokenization;

/// <summary>
/// What a Hugging Face tokenizer.json holds, as SeekSharp reads and writes it: the BPE vocabulary and merges,
/// the added tokens, and the pipeline sections (normalizer, pre-tokenizer, post-processor, decoder) kept as the
/// JSON they were read as, so that saving writes back exactly what Hugging Face will load.
/// </summary>
internal sealed class TokenizerFile
{
    /// <summary>The model's vocabulary by id (null where an id has no entry).</summary>
    public required string?[] Vocab { get; init; }

    /// <summary>Merge rules in rank order, as ids into <see cref="Vocab"/>.</summary>
    public required (int Left, int Right)[] Merges { get; init; }

    /// <summary>Whether merges were written as ["a", "b"] pairs (newer files) rather than "a b" strings.</summary>
    public bool MergesAsPairs { get; init; }

    public required AddedToken[] AddedTokens { get; init; }

    public JsonElement? Normalizer { get; init; }
    public JsonElement? PreTokenizer { get; init; }
    public JsonElement? PostProcessor { get; init; }
    public JsonElement? Decoder { get; init; }
    public JsonElement? Truncation { get; init; }
    public JsonElement? Padding { get; init; }

    public string? UnkToken { get; init; }
    public bool FuseUnk { get; init; }
    public bool? IgnoreMerges { get; init; }

    /// <summary>Parses a JSON fragment written in code (the sections a trained tokenizer gets).</summary>
    public static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
}
