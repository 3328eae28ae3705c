using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SeekSharp.Tokenization;

/// <summary>Settings for <see cref="BpeTrainer"/>.</summary>
/// <param name="VocabSize">
/// The whole vocabulary, special tokens included: 3 (BOS, EOS, pad) + 256 byte tokens + merges + 15 chat and
/// tool markers, so at least <see cref="BpeTrainer.MinimumVocabSize"/>.
/// </param>
/// <param name="MinFrequency">Stop merging when the most frequent pair occurs fewer times than this.</param>
/// <param name="Threads">Threads for counting pieces (the merge loop is sequential); 0 means all cores.</param>
public sealed record BpeTrainerOptions(int VocabSize, int MinFrequency = 2, int Threads = 0)
{
    public int VocabSize { get; } = VocabSize >= BpeTrainer.MinimumVocabSize ? VocabSize
        : throw new InvalidInputException($"vocabulary size {VocabSize} is below the minimum of {BpeTrainer.MinimumVocabSize} (259 base tokens and 15 chat markers)");

    public int MinFrequency { get; } = MinFrequency >= 1 ? MinFrequency : throw new InvalidInputException("minimum pair frequency must be at least 1");

    public int Threads { get; } = Threads >= 0 ? Threads : throw new InvalidInputException("threads must be 0 (all cores) or more");
}

/// <summary>
/// Learns a byte-level BPE vocabulary with DeepSeek-V3's pre-tokenizer: text is cut into pieces exactly as
/// encoding will cut it, pieces are counted, then the most frequent adjacent pair of tokens (ties: the lower pair of
/// ids) is merged into a new token, again and again, until the vocabulary is full. The result is a
/// <see cref="Tokenizer"/> with DeepSeek-V3's layout: BOS/EOS/pad at ids 0-2, the 256 bytes, the merges, then the
/// User/Assistant, fill-in-the-middle and tool markers, and DeepSeek-V3's chat template.
/// </summary>
/// <remarks>
/// Counting runs on several threads; each merge then updates only the words that contain the merged pair (an index
/// from pair to words) and re-ranks pairs through a max-heap with lazy deletion, so a merge costs in proportion to
/// where its pair occurs, not to the corpus.
/// </remarks>
public static class BpeTrainer
{
    private static readonly string[] Leading = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"];

    // DeepSeek-V3's markers after the vocabulary, with its flags: all "normalized", only <|EOT|> special.
    private static readonly string[] Trailing =
    [
        "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<｜User｜>", "<｜Assistant｜>", "<|EOT|>",
        "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
        "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜tool▁sep｜>",
    ];

    /// <summary>The smallest vocabulary: the 3 leading specials, the 256 bytes and the 15 markers, no merge.</summary>
    public const int MinimumVocabSize = 3 + 256 + 15;

    /// <summary>Trains on the UTF-8 text files given (a folder stands for every file under it), and on added tokens' text never.</summary>
    /// <param name="paths">Files or folders.</param>
    /// <param name="options">Vocabulary size and limits.</param>
    /// <param name="log">Progress lines (optional), for a CLI's stderr.</param>
    /// <param name="cancellationToken">Stops counting or merging.</param>
    public static Tokenizer TrainFromFiles(IEnumerable<string> paths, BpeTrainerOptions options, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        var files = ExpandFiles(paths);
        var clock = Stopwatch.StartNew();
        long bytes = 0;
        var counts = CountPieces(ReadBlocks(files, b => bytes += b, cancellationToken), options, cancellationToken);
        log?.Invoke($"counted {counts.Count:N0} distinct pieces in {bytes / 1e6:F1} MB from {files.Count} file(s) in {clock.Elapsed.TotalSeconds:F1} s");
        return Train(counts, options, log, cancellationToken);
    }

    /// <summary>Trains on texts in memory.</summary>
    public static Tokenizer TrainFromTexts(IEnumerable<string> texts, BpeTrainerOptions options, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        var counts = CountPieces(texts, options, cancellationToken);
        return Train(counts, options, log, cancellationToken);
    }

    private static List<string> ExpandFiles(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (string path in paths)
        {
            if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            else if (File.Exists(path))
                files.Add(path);
            else
                throw new TokenizerException($"training input not found: {path}");
        }
        if (files.Count == 0)
            throw new TokenizerException("no training input files");
        return files;
    }

    // Blocks of about a million characters, cut where a line starts with a non-space character: no piece spans
    // such a cut, so counting blocks separately counts exactly what encoding the whole text would produce.
    private static IEnumerable<string> ReadBlocks(List<string> files, Action<long> onBytes, CancellationToken ct)
    {
        var buffer = new char[1 << 20];
        foreach (string file in files)
        {
            onBytes(new FileInfo(file).Length);
            using var reader = new StreamReader(file, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
            var carry = new StringBuilder();
            int read;
            while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
            {
                ct.ThrowIfCancellationRequested();
                carry.Append(buffer, 0, read);
                string text = carry.ToString();
                int cut = LastSafeCut(text);
                if (cut <= 0)
                    continue;
                yield return text[..cut];
                carry.Clear().Append(text, cut, text.Length - cut);
            }
            if (carry.Length > 0)
                yield return carry.ToString();
        }
    }

    private static int LastSafeCut(string text)
    {
        for (int i = text.Length - 1; i > 0; i--)
            if (text[i - 1] == '\n' && !char.IsWhiteSpace(text[i]) && !char.IsLowSurrogate(text[i]))
                return i;
        return -1;
    }

    /// <summary>How often each piece occurs, as encoding will cut the text (added tokens in the text are skipped).</summary>
    internal static Dictionary<string, long> CountPieces(IEnumerable<string> blocks, BpeTrainerOptions options, CancellationToken ct)
    {
        var matcher = new AddedTokenMatcher(Leading.Concat(Trailing).Select((t, i) => new AddedToken(i, t, Special: true)));
        var partials = new ConcurrentBag<Dictionary<string, long>>();
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = options.Threads == 0 ? Environment.ProcessorCount : options.Threads,
            CancellationToken = ct,
        };
        Parallel.ForEach(blocks, parallel,
            () => (Counts: new Dictionary<string, long>(StringComparer.Ordinal), Pieces: new PieceBuffer()),
            (block, state, local) =>
            {
                var lookup = local.Counts.GetAlternateLookup<ReadOnlySpan<char>>();
                int pos = 0;
                while (pos <= block.Length)
                {
                    int end = matcher.FindNext(block, pos, out int start, out int after, out _) ? start : block.Length;
                    var segment = block.AsSpan(pos, end - pos);
                    local.Pieces.Clear();
                    DeepSeekPreTokenizer.Instance.Split(segment, local.Pieces);
                    for (int i = 0; i < local.Pieces.Count; i++)
                    {
                        var piece = segment[local.Pieces.Start(i)..local.Pieces.End(i)];
                        lookup.TryGetValue(piece, out long n);
                        lookup[piece] = n + 1;
                    }
                    pos = end == block.Length ? block.Length + 1 : after;
                }
                return local;
            },
            local => partials.Add(local.Counts));
        var total = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var partial in partials)
            foreach (var (piece, n) in partial)
                total[piece] = total.GetValueOrDefault(piece) + n;
        return total;
    }

    private static Tokenizer Train(Dictionary<string, long> pieceCounts, BpeTrainerOptions options, Action<string>? log, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        int firstByteId = Leading.Length;
        var vocab = new List<string>(Leading);
        for (int b = 0; b < 256; b++)
            vocab.Add(ByteLevel.ByteToChar[b].ToString());
        var tokenBytes = new List<byte[]>(Leading.Select(Encoding.UTF8.GetBytes));
        for (int b = 0; b < 256; b++)
            tokenBytes.Add([(byte)b]);

        // Distinct pieces in a fixed order (by text), so that training is deterministic whatever the thread timing.
        var words = pieceCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new Word(Encoding.UTF8.GetBytes(kv.Key).Select(b => firstByteId + b).ToArray(), kv.Value))
            .ToList();
        var merges = new PairMerger(words).Run(options.VocabSize - Trailing.Length - vocab.Count, options.MinFrequency, ct, (left, right) =>
        {
            var bytes = tokenBytes[left].Concat(tokenBytes[right]).ToArray();
            tokenBytes.Add(bytes);
            vocab.Add(ByteLevel.Encode(bytes));
            return vocab.Count - 1;
        });
        log?.Invoke($"learned {merges.Count:N0} merges in {clock.Elapsed.TotalSeconds:F1} s");
        if (vocab.Count + Trailing.Length < options.VocabSize)
            log?.Invoke($"stopped at vocabulary size {vocab.Count + Trailing.Length}: no pair occurs {options.MinFrequency} times or more");
        return Assemble(vocab, merges);
    }

    private static Tokenizer Assemble(List<string> vocab, List<(int, int)> merges)
    {
        var added = Leading.Select((t, i) => new AddedToken(i, t, Special: true, Normalized: false))
            .Concat(Trailing.Select((t, i) => new AddedToken(vocab.Count + i, t, Special: t == "<|EOT|>", Normalized: true)))
            .ToArray();
        var file = new TokenizerFile
        {
            Vocab = vocab.ToArray(),
            Merges = merges.ToArray(),
            AddedTokens = added,
            Normalizer = TokenizerFile.Json("""{"type":"Sequence","normalizers":[]}"""),
            PreTokenizer = DeepSeekPreTokenizerJson(),
            PostProcessor = TokenizerFile.Json("""{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}"""),
            Decoder = TokenizerFile.Json("""{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}"""),
        };
        var config = new JsonObject
        {
            ["add_bos_token"] = true,
            ["add_eos_token"] = false,
            ["bos_token"] = Leading[0],
            ["eos_token"] = Leading[1],
            ["pad_token"] = Leading[2],
            ["unk_token"] = null,
            ["clean_up_tokenization_spaces"] = false,
            ["legacy"] = true,
            ["model_max_length"] = 131072,
            ["tokenizer_class"] = "LlamaTokenizerFast",
            ["chat_template"] = BuiltInChatTemplates.DeepSeekV3,
        };
        return new Tokenizer(file, new TokenizerConfig(config, "trained tokenizer_config.json"), "trained tokenizer.json");
    }

    private static JsonElement DeepSeekPreTokenizerJson()
    {
        var steps = new JsonArray();
        foreach (string pattern in DeepSeekPreTokenizer.Patterns)
            steps.Add(new JsonObject
            {
                ["type"] = "Split",
                ["pattern"] = new JsonObject { ["Regex"] = pattern },
                ["behavior"] = "Isolated",
                ["invert"] = false,
            });
        steps.Add(new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false });
        return TokenizerFile.Json(new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = steps }.ToJsonString());
    }

    /// <summary>A distinct piece: its current tokens and how often it occurs.</summary>
    private sealed class Word(int[] symbols, long count)
    {
        public int[] Symbols = symbols;
        public int Length = symbols.Length;
        public readonly long Count = count;
    }

    /// <summary>The merge loop: pair counts, the pair → words index, and the max-heap of candidate pairs.</summary>
    private sealed class PairMerger(List<Word> words)
    {
        private readonly Dictionary<long, long> _counts = new();
        private readonly Dictionary<long, List<int>> _where = new();
        private readonly int[] _seen = new int[words.Count];

        private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;

        public List<(int, int)> Run(int maxMerges, int minFrequency, CancellationToken ct, Func<int, int, int> newToken)
        {
            for (int w = 0; w < words.Count; w++)
                for (int i = 0; i + 1 < words[w].Length; i++)
                    Add(Pair(words[w].Symbols[i], words[w].Symbols[i + 1]), words[w].Count, w);
            // Max count first; among equal counts the lower pair of ids (a negated key keeps the min-heap a max-heap).
            var heap = new PriorityQueue<long, (long NegCount, long Pair)>(_counts.Select(kv => (kv.Key, (-kv.Value, kv.Key))));
            var merges = new List<(int, int)>();
            var delta = new Dictionary<long, long>();
            while (merges.Count < maxMerges && heap.TryDequeue(out long pair, out var key))
            {
                long count = _counts.GetValueOrDefault(pair);
                if (count != -key.NegCount)
                {
                    if (count > 0)
                        heap.Enqueue(pair, (-count, pair));   // stale entry: re-rank with the current count
                    continue;
                }
                if (count < minFrequency)
                    break;
                if ((merges.Count & 255) == 0)
                    ct.ThrowIfCancellationRequested();
                int left = (int)(pair >> 32), right = (int)(uint)pair;
                int merged = newToken(left, right);
                merges.Add((left, right));
                delta.Clear();
                foreach (int w in _where[pair])
                {
                    if (_seen[w] == merges.Count)
                        continue;   // a word listed twice
                    _seen[w] = merges.Count;
                    MergeInWord(w, left, right, merged, delta);
                }
                _counts.Remove(pair);
                _where.Remove(pair);
                foreach (var (p, d) in delta)
                {
                    if (p == pair)
                        continue;
                    long now = _counts.GetValueOrDefault(p) + d;
                    if (now <= 0)
                        _counts.Remove(p);
                    else
                    {
                        _counts[p] = now;
                        if (d > 0)
                            heap.Enqueue(p, (-now, p));
                    }
                }
            }
            return merges;
        }

        // Replaces every (left, right) in word w, left to right, noting how each neighbouring pair's count changes.
        private void MergeInWord(int w, int left, int right, int merged, Dictionary<long, long> delta)
        {
            var word = words[w];
            var s = word.Symbols;
            long c = word.Count;
            int write = 0;
            for (int read = 0; read < word.Length;)
            {
                if (read + 1 < word.Length && s[read] == left && s[read + 1] == right)
                {
                    if (write > 0)
                    {
                        Change(delta, Pair(s[write - 1], left), -c);
                        Change(delta, Pair(s[write - 1], merged), c);
                        Index(Pair(s[write - 1], merged), w);
                    }
                    if (read + 2 < word.Length)
                    {
                        Change(delta, Pair(right, s[read + 2]), -c);
                        Change(delta, Pair(merged, s[read + 2]), c);
                        Index(Pair(merged, s[read + 2]), w);
                    }
                    s[write++] = merged;
                    read += 2;
                }
                else
                    s[write++] = s[read++];
            }
            word.Length = write;
        }

        private void Add(long pair, long count, int word)
        {
            _counts[pair] = _counts.GetValueOrDefault(pair) + count;
            Index(pair, word);
        }

        private void Index(long pair, int word)
        {
            if (!_where.TryGetValue(pair, out var list))
                _where[pair] = list = new List<int>();
            if (list.Count == 0 || list[^1] != word)
                list.Add(word);
        }

        private static void Change(Dictionary<long, long> delta, long pair, long by) => delta[pair] = delta.GetValueOrDefault(pair) + by;
    }
}
