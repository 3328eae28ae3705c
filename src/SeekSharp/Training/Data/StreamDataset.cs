using SeekSharp.Model;

namespace SeekSharp.Training.Data;

/// <summary>
/// One long token stream (documents joined by the end-of-sequence token). Training windows of T tokens are drawn
/// at uniformly random offsets from the first part; the last <c>validationFraction</c> is held out and read in
/// consecutive non-overlapping windows. Each window of T tokens is one training sequence (the model is scored on each
/// next token inside it, as in the golden definition).
/// </summary>
public sealed class StreamDataset : TokenDataset
{
    private readonly int[] _tokens;
    private readonly int _trainEnd;

    public StreamDataset(int[] tokens, double validationFraction, int vocabSize, string source)
    {
        Source = source;
        CheckIds(tokens, vocabSize, source);
        if (!(validationFraction >= 0 && validationFraction < 1)) throw new InvalidInputException($"The validation fraction must be in [0, 1), got {validationFraction}.");
        _tokens = tokens;
        _trainEnd = tokens.Length - (int)(tokens.Length * validationFraction);
    }

    public override long TrainTokens => _trainEnd;
    public override long ValidationTokens => _tokens.Length - _trainEnd;

    public override void CheckFits(int batchSize, int seqLen)
    {
        if (_trainEnd < seqLen)
            throw new InvalidInputException($"{Source}: {_trainEnd} training tokens are fewer than one sequence of {seqLen} (lower --seq-len or add data).");
    }

    public override BatchLayout NextBatch(ref DataCursor cursor, int batchSize, int seqLen, List<int> tokens, List<byte> targetMask)
    {
        targetMask.Clear();
        if (_trainEnd < seqLen)
            throw new InvalidInputException($"{Source}: {_trainEnd} training tokens are fewer than one sequence of {seqLen} (lower --seq-len or add data).");
        tokens.Clear();
        int starts = _trainEnd - seqLen + 1;
        for (int b = 0; b < batchSize; b++)
        {
            int start = cursor.Rng.NextInt(starts);
            for (int i = 0; i < seqLen; i++) tokens.Add(_tokens[start + i]);
        }
        cursor.Position++;
        return new BatchLayout(batchSize, seqLen);
    }

    public override IEnumerable<TokenBatch> ValidationBatches(int batchSize, int seqLen, int maxBatches)
    {
        int windows = (int)(ValidationTokens / seqLen);
        int batches = Math.Min(maxBatches, windows / batchSize);
        for (int k = 0; k < batches; k++)
        {
            var batch = new int[batchSize * seqLen];
            for (int b = 0; b < batchSize; b++)
                Array.Copy(_tokens, _trainEnd + (k * batchSize + b) * seqLen, batch, b * seqLen, seqLen);
            yield return new TokenBatch(new BatchLayout(batchSize, seqLen), batch);
        }
    }
}
