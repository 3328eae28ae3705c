using System.Buffers;
using System.Text;

namespace SeekSharp.Tokenization;

/// <summary>
/// A Hugging Face byte-level BPE tokenizer (DeepSeek-V3's and the ones BpeTrainer makes), encoding
/// and decoding exactly as Hugging Face's <c>tokenizers</c> does. Immutable after <see cref="Load"/>; every member
/// is safe to call from many threads at once.
/// </summary>
/// <remarks>
/// Encoding: added tokens (BOS, "&lt;｜User｜&gt;", ...) are found in the raw text first; the text between them is cut
/// into pieces by the pre-tokenizer; each piece's UTF-8 bytes go through BPE, with a shared cache of frequent pieces.
/// A lone UTF-16 surrogate (not valid Unicode, so not text Hugging Face's Rust library can receive) is treated as a
/// code point of category Cs by the pre-tokenizer and encoded as the bytes of U+FFFD (EF BF BD), the same as
/// transformers.js; decoding therefore gives U+FFFD in its place.
/// </remarks>
public sealed class Tokenizer
{
    private readonly TokenizerFile _file;
    private readonly TokenizerConfig _config;
    private readonly BpeModel _bpe;
    private readonly PreTokenizer _preTokenizer;
    private readonly AddedTokenMatcher _rawMatcher;          // added tokens matched in the raw text
    private readonly AddedTokenMatcher _normalizedMatcher;   // ... and those matched after normalization
    private readonly PieceCache _cache = new(capacity: 200_000);
    private readonly string?[] _tokenById;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly Dictionary<string, int> _vocabByToken;
    private readonly bool[] _special;
    private readonly byte[] _tokenBytes;     // every token's bytes, back to back
    private readonly int[] _tokenOffsets;    // token id's bytes are _tokenBytes[_tokenOffsets[id].._tokenOffsets[id + 1]]
    private readonly bool[] _exists;

    internal Tokenizer(TokenizerFile file, TokenizerConfig config, string source)
    {
        _file = file;
        _config = config;
        Pipeline.CheckNormalizer(file.Normalizer, source);
        Pipeline.CheckDecoder(file.Decoder, source);
        _preTokenizer = Pipeline.CreatePreTokenizer(file.PreTokenizer, source);
        ChunkChars = _preTokenizer is DeepSeekPreTokenizer ? 1 << 14 : int.MaxValue;

        _vocabByToken = new Dictionary<string, int>(file.Vocab.Length, StringComparer.Ordinal);
        for (int id = 0; id < file.Vocab.Length; id++)
            if (file.Vocab[id] is { } token)
                _vocabByToken[token] = id;
        _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in file.AddedTokens)
            _addedByContent.TryAdd(t.Content, t.Id);

        VocabSize = Math.Max(file.Vocab.Length, file.AddedTokens.Length == 0 ? 0 : file.AddedTokens.Max(t => t.Id) + 1);
        _tokenById = new string?[VocabSize];
        _special = new bool[VocabSize];
        file.Vocab.CopyTo(_tokenById, 0);
        foreach (var t in file.AddedTokens)
        {
            _tokenById[t.Id] = t.Content;   // an added token shadows a vocabulary entry with its id, as in Hugging Face
            _special[t.Id] = t.Special;
        }
        _exists = _tokenById.Select(t => t is not null).ToArray();
        (_tokenBytes, _tokenOffsets) = BuildTokenBytes(_tokenById);

        int? unkId = file.UnkToken is null ? null : TokenToId(file.UnkToken)
            ?? throw new TokenizerException($"{source}: model.unk_token '{file.UnkToken}' is not in the vocabulary");
        var merges = new (int, int, int)[file.Merges.Length];
        for (int r = 0; r < merges.Length; r++)
        {
            var (left, right) = file.Merges[r];
            merges[r] = (left, right, _vocabByToken[file.Vocab[left] + file.Vocab[right]]);
        }
        _bpe = new BpeModel(new MergeTable(merges), t => _vocabByToken.TryGetValue(t, out int id) ? id : null, unkId);
        _rawMatcher = new AddedTokenMatcher(file.AddedTokens.Where(t => !t.Normalized));
        _normalizedMatcher = new AddedTokenMatcher(file.AddedTokens.Where(t => t.Normalized));

        BosId = SpecialId(config.BosToken, "bos_token", source);
        EosId = SpecialId(config.EosToken, "eos_token", source);
        PadId = SpecialId(config.PadToken, "pad_token", source);
        AddBosToken = config.AddBosToken;
        if (config.ChatTemplate is not null)
            ChatTemplate = new ChatTemplate(config.ChatTemplate, config.BosToken, config.EosToken, config.PadToken);
    }

    /// <summary>The parsed tokenizer.json and tokenizer_config.json (for writers such as the GGUF exporter).</summary>
    internal TokenizerFile JsonFile => _file;
    internal TokenizerConfig ConfigFile => _config;
    internal bool UsesDeepSeekPreTokenizer => _preTokenizer is DeepSeekPreTokenizer;

    /// <summary>Highest token id + 1, added tokens included (DeepSeek-V3: 128 815).</summary>
    public int VocabSize { get; }

    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }

    /// <summary>Whether the model expects BOS before plain text (tokenizer_config.json's add_bos_token); pass it as <c>addBos</c>.</summary>
    public bool AddBosToken { get; }

    /// <summary>The conversation format from tokenizer_config.json's chat_template, or null if it has none.</summary>
    public ChatTemplate? ChatTemplate { get; }

    /// <summary>The added tokens, in the order tokenizer.json lists them.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _file.AddedTokens;

    /// <summary>
    /// Loads a folder holding tokenizer.json (and, optionally, tokenizer_config.json), or a tokenizer.json file
    /// (its folder's tokenizer_config.json is read if there is one), or a GGUF file written by the exporter.
    /// </summary>
    public static Tokenizer Load(string path)
    {
        if (File.Exists(path) && Formats.Gguf.GgufFile.HasMagic(path)) return GgufTokenizerMetadata.Load(path);
        string jsonPath = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(jsonPath))
            throw new TokenizerException(Directory.Exists(path)
                ? $"no tokenizer.json in folder {path}"
                : $"tokenizer file or folder not found: {path}");
        string configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!, "tokenizer_config.json");
        var file = TokenizerJsonReader.Read(jsonPath);
        var config = File.Exists(configPath) ? TokenizerConfig.Read(configPath) : TokenizerConfig.Empty;
        try
        {
            return new Tokenizer(file, config, jsonPath);
        }
        catch (InvalidOperationException e)
        {
            // A pipeline section's string escaping a lone surrogate ("\ud800") throws this when System.Text.Json reads it.
            throw new TokenizerException($"{jsonPath} has a string that is not valid UTF-16 once unescaped: {e.Message}", e);
        }
    }

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="directory"/> (created if needed).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        TokenizerJsonWriter.Write(_file, Path.Combine(directory, "tokenizer.json"));
        _config.Write(Path.Combine(directory, "tokenizer_config.json"));
    }

    /// <summary>Encodes <paramref name="text"/>; added tokens written in it (such as "&lt;｜User｜&gt;") become their ids.</summary>
    public int[] Encode(string text, bool addBos = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids, addBos);
        return ids.ToArray();
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, bool addBos = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sink = new ListSink(ids);
        if (addBos)
            sink.Add(BosId ?? throw new TokenizerException("this tokenizer has no BOS token (tokenizer_config.json has no bos_token)"));
        EncodeCore(text, ref sink);
    }

    /// <summary>
    /// Renders a conversation with <see cref="ChatTemplate"/> and encodes it. No BOS is added here: DeepSeek's
    /// templates write BOS themselves, and a second one would change what the model sees.
    /// </summary>
    /// <exception cref="TokenizerException">The tokenizer has no chat template, or the template cannot render these messages.</exception>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var template = ChatTemplate ?? throw new TokenizerException("this tokenizer has no chat template (tokenizer_config.json has no chat_template)");
        return Encode(template.Render(messages, addGenerationPrompt));
    }

    /// <summary>How many ids <see cref="Encode(string, bool)"/> would give (without BOS), with no id array allocated.</summary>
    public int CountTokens(ReadOnlySpan<char> text)
    {
        var sink = new CountSink();
        EncodeCore(text, ref sink);
        return sink.Count;
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. Bytes that do not form complete UTF-8 characters (a sequence cut in the
    /// middle of a character) become U+FFFD, one per maximal invalid subsequence, as Hugging Face does.
    /// </summary>
    /// <exception cref="InvalidInputException">An id outside the vocabulary.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new ArrayBufferWriter<byte>(ids.Length * 4 + 16);
        foreach (int id in ids)
        {
            if (!skipSpecialTokens || !IsSpecial(id))
                bytes.Write(TokenBytes(id));
        }
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <summary>Whether <paramref name="id"/> is an added token marked special (those <c>skipSpecialTokens</c> drops).</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <summary>A decoder that turns ids into text one at a time, holding back bytes of a character not yet complete.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = true) => new(this, skipSpecialTokens);

    /// <summary>The id of a token string (an added token's content, or a vocabulary entry in byte-level spelling).</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out int id) || _vocabByToken.TryGetValue(token, out id) ? id : null;

    /// <summary>The token string of <paramref name="id"/> (byte-level spelling for vocabulary entries), or null.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_tokenById.Length ? _tokenById[id] : null;

    /// <summary>The bytes token <paramref name="id"/> stands for.</summary>
    /// <exception cref="InvalidInputException">An id outside the vocabulary.</exception>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        if ((uint)id >= (uint)_exists.Length || !_exists[id])
            throw new InvalidInputException(id < 0 || id >= VocabSize
                ? $"token id {id} is outside the vocabulary (0..{VocabSize - 1})"
                : $"token id {id} has no token in this vocabulary");
        return _tokenBytes.AsSpan(_tokenOffsets[id], _tokenOffsets[id + 1] - _tokenOffsets[id]);
    }

    private void EncodeCore<TSink>(ReadOnlySpan<char> text, ref TSink sink) where TSink : struct, ITokenSink
    {
        var scratch = Scratch.Get();
        int pos = 0;
        while (_rawMatcher.FindNext(text, pos, out int start, out int end, out var token))
        {
            EncodeBetweenRawTokens(text[pos..start], ref sink, scratch);
            sink.Add(token.Id);
            pos = end;
        }
        EncodeBetweenRawTokens(text[pos..], ref sink, scratch);
    }

    // The normalizer is the identity (Pipeline checks), so normalized added tokens are matched in the same text.
    private void EncodeBetweenRawTokens<TSink>(ReadOnlySpan<char> text, ref TSink sink, Scratch scratch) where TSink : struct, ITokenSink
    {
        int pos = 0;
        while (_normalizedMatcher.FindNext(text, pos, out int start, out int end, out var token))
        {
            EncodeOrdinary(text[pos..start], ref sink, scratch);
            sink.Add(token.Id);
            pos = end;
        }
        EncodeOrdinary(text[pos..], ref sink, scratch);
    }

    private void EncodeOrdinary<TSink>(ReadOnlySpan<char> text, ref TSink sink, Scratch scratch) where TSink : struct, ITokenSink
    {
        // Long text is cut into chunks at places no piece can span, so the piece buffer stays small (and in cache).
        for (int start = 0; start < text.Length;)
        {
            int end = NextChunkEnd(text, start, ChunkChars);
            var chunk = text[start..end];
            var pieces = scratch.Pieces;
            pieces.Clear();
            _preTokenizer.Split(chunk, pieces);
            for (int i = 0; i < pieces.Count; i++)
                EncodePiece(chunk[pieces.Start(i)..pieces.End(i)], ref sink, scratch);
            start = end;
        }
    }

    /// <summary>
    /// Chunk size for long text, in UTF-16 units. The cuts are proven safe for DeepSeek-V3's pre-tokenizer only, so
    /// other pre-tokenizers get no chunking. Tests change it to compare chunked and whole encoding.
    /// </summary>
    internal int ChunkChars { get; set; }

    /// <summary>
    /// Where the chunk that starts at <paramref name="start"/> should end: about <paramref name="size"/> units on, at a
    /// cut that no piece of the byte-level pre-tokenizers can span. That is after a line break followed by a
    /// non-space character (the break always ends a match and nothing matches across it), or between an ASCII letter
    /// and a space (a letter run ends there and every match containing a space starts with it). With no such cut
    /// the text is not cut.
    /// </summary>
    internal static int NextChunkEnd(ReadOnlySpan<char> text, int start, int size)
    {
        if (text.Length - start <= size)
            return text.Length;
        for (int p = start + size; p > start + size / 2; p--)
            if (IsSafeCut(text, p))
                return p;
        for (int p = start + size + 1; p < text.Length; p++)
            if (IsSafeCut(text, p))
                return p;
        return text.Length;
    }

    private static bool IsSafeCut(ReadOnlySpan<char> text, int p) =>
        (text[p - 1] == '\n' && !UnicodeClasses.IsWhiteSpace(text[p])) || (text[p] == ' ' && char.IsAsciiLetter(text[p - 1]));

    private void EncodePiece<TSink>(ReadOnlySpan<char> piece, ref TSink sink, Scratch scratch) where TSink : struct, ITokenSink
    {
        // A lone ASCII character (a space, a comma) is its own byte's token: no merge applies to one byte.
        if (piece.Length == 1 && piece[0] < 0x80 && _bpe.ByteToken((byte)piece[0]) is int single and >= 0)
        {
            sink.Add(single);
            return;
        }
        if (_cache.TryGet(piece, out int[] cached))
        {
            sink.Add(cached);
            return;
        }
        int byteCount = Encoding.UTF8.GetMaxByteCount(piece.Length);
        var bytes = scratch.Bytes(byteCount);
        byteCount = Encoding.UTF8.GetBytes(piece, bytes);   // a lone surrogate becomes EF BF BD
        var ids = scratch.Ids(byteCount);
        int count = _bpe.Encode(bytes.AsSpan(0, byteCount), ids);
        if (piece.Length <= PieceCache.MaxPieceLength)
            _cache.Add(piece, ids.AsSpan(0, count).ToArray());
        sink.Add(ids.AsSpan(0, count));
    }

    private int? SpecialId(string? content, string field, string source)
    {
        if (content is null)
            return null;
        return TokenToId(content) ?? throw new TokenizerException(
            $"{source}: tokenizer_config.json's {field} '{content}' is not a token of tokenizer.json");
    }

    // Hugging Face's ByteLevel decoder: a token all of whose characters are byte-level characters stands for those
    // bytes; any other token (an added token such as "<｜User｜>") stands for its own UTF-8.
    private static (byte[], int[]) BuildTokenBytes(string?[] tokens)
    {
        var offsets = new int[tokens.Length + 1];
        var all = new List<byte>(tokens.Length * 6);
        for (int id = 0; id < tokens.Length; id++)
        {
            offsets[id] = all.Count;
            if (tokens[id] is { } token)
                all.AddRange(ByteLevel.TryDecode(token) ?? Encoding.UTF8.GetBytes(token));
        }
        offsets[tokens.Length] = all.Count;
        return (all.ToArray(), offsets);
    }

    /// <summary>Per-thread buffers, so that encoding allocates nothing on the cached path.</summary>
    private sealed class Scratch
    {
        [ThreadStatic] private static Scratch? s_current;
        private byte[] _bytes = new byte[1024];
        private int[] _ids = new int[1024];

        public PieceBuffer Pieces { get; } = new();

        public static Scratch Get() => s_current ??= new Scratch();

        public byte[] Bytes(int length) => _bytes.Length >= length ? _bytes : _bytes = new byte[Math.Max(length, _bytes.Length * 2)];

        public int[] Ids(int length) => _ids.Length >= length ? _ids : _ids = new int[Math.Max(length, _ids.Length * 2)];
    }
}
