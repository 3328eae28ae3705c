using SeekSharp.Model;

namespace SeekSharp.Training.Data;

/// <summary>Training and validation token batches for a run.</summary>
public abstract class TokenDataset
{
    /// <summary>Where the data came from, for messages.</summary>
    public string Source { get; protected init; } = "";
    public abstract long TrainTokens { get; }
    public abstract long ValidationTokens { get; }

    /// <summary>The next training batch: fills <paramref name="tokens"/> and returns its layout; advances the cursor.</summary>
    public abstract BatchLayout NextBatch(ref DataCursor cursor, int batchSize, int seqLen, List<int> tokens);

    /// <summary>The fixed validation batches (the same every evaluation), at most <paramref name="maxBatches"/>.</summary>
    public abstract IEnumerable<(BatchLayout Layout, int[] Tokens)> ValidationBatches(int batchSize, int seqLen, int maxBatches);

    /// <summary>Throws when the training split cannot fill one batch of this shape.</summary>
    public virtual void CheckFits(int batchSize, int seqLen) { }

    protected static void CheckIds(ReadOnlySpan<int> ids, int vocabSize, string source)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocabSize)
                throw new InvalidInputException($"{source}: token id {ids[i]} (item {i}) is outside the model's vocabulary [0, {vocabSize}).");
    }
}
