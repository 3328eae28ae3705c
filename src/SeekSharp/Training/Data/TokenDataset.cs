using SeekSharp.Model;

namespace SeekSharp.Training.Data;

/// <summary>A batch of B·T token ids [B·T] and, for chat data, which of them are targets [B·T] (null: all).</summary>
public readonly record struct TokenBatch(BatchLayout Layout, int[] Tokens, byte[]? TargetMask = null);

/// <summary>Training and validation token batches for a run.</summary>
public abstract class TokenDataset
{
    /// <summary>Where the data came from, for messages.</summary>
    public string Source { get; protected init; } = "";
    public abstract long TrainTokens { get; }
    public abstract long ValidationTokens { get; }

    /// <summary>
    /// The next training batch: fills <paramref name="tokens"/> [B·T] and returns its layout; advances the cursor.
    /// <paramref name="targetMask"/> is left empty when every next token is a target, or holds one byte per token
    /// (1: the loss scores the prediction of this token), as chat data does.
    /// </summary>
    public abstract BatchLayout NextBatch(ref DataCursor cursor, int batchSize, int seqLen, List<int> tokens, List<byte> targetMask);

    /// <summary>The next training batch when the mask is not wanted.</summary>
    public BatchLayout NextBatch(ref DataCursor cursor, int batchSize, int seqLen, List<int> tokens) =>
        NextBatch(ref cursor, batchSize, seqLen, tokens, new List<byte>());

    /// <summary>The fixed validation batches (the same every evaluation), at most <paramref name="maxBatches"/>.</summary>
    public abstract IEnumerable<TokenBatch> ValidationBatches(int batchSize, int seqLen, int maxBatches);

    /// <summary>Throws when the training split cannot fill one batch of this shape.</summary>
    public virtual void CheckFits(int batchSize, int seqLen) { }

    protected static void CheckIds(ReadOnlySpan<int> ids, int vocabSize, string source)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocabSize)
                throw new InvalidInputException($"{source}: token id {ids[i]} (item {i}) is outside the model's vocabulary [0, {vocabSize}).");
    }
}
