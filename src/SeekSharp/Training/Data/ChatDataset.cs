using System.Text.Json;
using SeekSharp.Model;
using SeekSharp.Tokenization;

namespace SeekSharp.Training.Data;

/// <summary>
/// Chat fine-tuning data (<c>train --chat FILE.jsonl</c>): one OpenAI-style conversation per line,
/// <c>{"messages": [{"role": "system"|"user"|"assistant", "content": "…"}, …]}</c>, rendered with the model's chat
/// template (<see cref="ChatExample"/>); the loss scores the assistant tokens only.
/// <para>
/// Packing: conversations, in file order, are laid end to end into sequences of exactly <c>--seq-len</c> tokens; a
/// conversation that does not fit in what is left of a sequence starts the next one, and the rest is filled with the
/// pad token, which is never a target. A conversation longer than a sequence is cut to its first <c>--seq-len</c>
/// tokens. Training batches draw packed sequences at random with the run's seeded generator (so --resume continues the
/// same draws); the last <c>validationFraction</c> of the conversations are held out and packed the same way.
/// </para>
/// </summary>
public sealed class ChatDataset : TokenDataset
{
    private readonly ChatExample[] _train, _validation;
    private readonly int _padId;
    private readonly Dictionary<int, (int[] Ids, byte[] Mask, int Rows)> _packedTrain = new(), _packedValidation = new();

    public ChatDataset(IReadOnlyList<ChatExample> conversations, double validationFraction, int vocabSize, int padId, string source)
    {
        Source = source;
        if (conversations.Count == 0) throw new InvalidInputException($"{source}: no conversations.");
        if (!(validationFraction >= 0 && validationFraction < 1)) throw new InvalidInputException($"The validation fraction must be in [0, 1), got {validationFraction}.");
        foreach (var c in conversations) CheckIds(c.Ids, vocabSize, source);
        if ((uint)padId >= (uint)vocabSize) throw new InvalidInputException($"{source}: the pad id {padId} is outside the model's vocabulary [0, {vocabSize}).");
        int held = (int)(conversations.Count * validationFraction);
        if (held == conversations.Count) throw new InvalidInputException($"{source}: the validation split leaves no training conversations.");
        _train = conversations.Take(conversations.Count - held).ToArray();
        _validation = conversations.Skip(conversations.Count - held).ToArray();
        _padId = padId;
    }

    /// <summary>Reads a JSONL file of conversations and renders each with <paramref name="tokenizer"/>'s chat template.</summary>
    public static ChatDataset Open(string path, Tokenizer tokenizer, int vocabSize, double validationFraction)
    {
        var examples = JsonLines.Read(path, "Chat data", row => ChatExample.Render(tokenizer, ParseMessages(row)));
        int pad = tokenizer.PadId ?? tokenizer.EosId ?? throw new InvalidInputException("the tokenizer has neither a pad nor an end-of-sequence token to pad packed sequences with.");
        return new ChatDataset(examples, validationFraction, vocabSize, pad, path);
    }

    /// <summary>One JSONL row: <c>{"messages": [{"role": …, "content": …}, …]}</c>.</summary>
    public static IReadOnlyList<ChatMessage> ParseMessages(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException("expected an object with a \"messages\" array.");
        var messages = new List<ChatMessage>();
        foreach (var m in list.EnumerateArray())
        {
            int i = messages.Count;
            if (m.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"message {i} is not an object.");
            if (!m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw new InvalidInputException($"message {i} has no \"role\" string.");
            string r = role.GetString()!;
            if (r is not ("system" or "user" or "assistant" or "tool"))
                throw new InvalidInputException($"message {i} has role \"{r}\"; expected system, user, assistant or tool.");
            if (!m.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                throw new InvalidInputException($"message {i} has no \"content\" string.");
            messages.Add(new ChatMessage(r, content.GetString()!));
        }
        if (messages.Count == 0) throw new InvalidInputException("\"messages\" is empty.");
        return messages;
    }

    public int TrainConversations => _train.Length;
    public int ValidationConversations => _validation.Length;
    public override long TrainTokens => _train.Sum(c => (long)c.Ids.Length);
    public override long ValidationTokens => _validation.Sum(c => (long)c.Ids.Length);
    /// <summary>Assistant (scored) tokens in the training conversations.</summary>
    public long TrainTargetTokens => _train.Sum(c => (long)c.TargetMask.Count(m => m != 0));

    /// <summary>Conversations longer than <paramref name="seqLen"/>, which packing cuts.</summary>
    public int Truncated(int seqLen) => _train.Count(c => c.Ids.Length > seqLen) + _validation.Count(c => c.Ids.Length > seqLen);

    public override void CheckFits(int batchSize, int seqLen) => Packed(_train, _packedTrain, seqLen);

    public override BatchLayout NextBatch(ref DataCursor cursor, int batchSize, int seqLen, List<int> tokens, List<byte> targetMask)
    {
        var (ids, mask, rows) = Packed(_train, _packedTrain, seqLen);
        tokens.Clear();
        targetMask.Clear();
        for (int b = 0; b < batchSize; b++)
        {
            int row = cursor.Rng.NextInt(rows);
            tokens.AddRange(ids.AsSpan(row * seqLen, seqLen));
            targetMask.AddRange(mask.AsSpan(row * seqLen, seqLen));
        }
        cursor.Position++;
        return new BatchLayout(batchSize, seqLen);
    }

    public override IEnumerable<TokenBatch> ValidationBatches(int batchSize, int seqLen, int maxBatches)
    {
        if (_validation.Length == 0) yield break;
        var (ids, mask, rows) = Packed(_validation, _packedValidation, seqLen);
        for (int k = 0; k < maxBatches && (k + 1) * batchSize <= rows; k++)
        {
            int n = batchSize * seqLen;
            yield return new TokenBatch(new BatchLayout(batchSize, seqLen), ids.AsSpan(k * n, n).ToArray(), mask.AsSpan(k * n, n).ToArray());
        }
    }

    private (int[] Ids, byte[] Mask, int Rows) Packed(ChatExample[] examples, Dictionary<int, (int[], byte[], int)> cache, int seqLen)
    {
        if (cache.TryGetValue(seqLen, out var packed)) return packed;
        var ids = new List<int>();
        var mask = new List<byte>();
        int used = 0;                                   // tokens in the current sequence
        void Close()
        {
            for (; used > 0 && used < seqLen; used++) { ids.Add(_padId); mask.Add(0); }
            used = 0;
        }
        foreach (var c in examples)
        {
            int n = Math.Min(c.Ids.Length, seqLen);
            if (used + n > seqLen) Close();
            ids.AddRange(c.Ids.AsSpan(0, n));
            mask.AddRange(c.TargetMask.AsSpan(0, n));
            used += n;
            if (used == seqLen) used = 0;
        }
        Close();
        packed = (ids.ToArray(), mask.ToArray(), ids.Count / seqLen);
        if (packed.Item3 == 0) throw new InvalidInputException($"{Source}: no conversation to train on.");
        cache[seqLen] = packed;
        return packed;
    }
}
