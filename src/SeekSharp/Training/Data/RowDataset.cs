using SeekSharp.Model;

namespace SeekSharp.Training.Data;

/// <summary>
/// Explicit training sequences (a JSON array of token-id rows): each row is one sequence, read whole. Rows are used in
/// file order, cycling through the training rows (no shuffling), so a run's batches are exactly the file's rows; the
/// last <c>validationFraction</c> of the rows is held out. A batch takes the next B rows; rows of different lengths
/// need batch size 1 (there is no padding).
/// </summary>
public sealed class RowDataset : TokenDataset
{
    private readonly int[][] _rows;
    private readonly int _trainRows;

    public RowDataset(int[][] rows, double validationFraction, int vocabSize, string source)
    {
        Source = source;
        if (rows.Length == 0) throw new InvalidInputException($"{source}: no sequences.");
        foreach (var r in rows)
        {
            if (r.Length < 2) throw new InvalidInputException($"{source}: a sequence of {r.Length} token(s) has nothing to predict; rows need at least 2.");
            CheckIds(r, vocabSize, source);
        }
        _rows = rows;
        _trainRows = rows.Length - (int)(rows.Length * validationFraction);
        if (_trainRows == 0) throw new InvalidInputException($"{source}: the validation split leaves no training rows.");
    }

    public override long TrainTokens => _rows.Take(_trainRows).Sum(r => (long)r.Length);
    public override long ValidationTokens => _rows.Skip(_trainRows).Sum(r => (long)r.Length);

    public override BatchLayout NextBatch(ref DataCursor cursor, int batchSize, int seqLen, List<int> tokens, List<byte> targetMask)
    {
        targetMask.Clear();
        tokens.Clear();
        int length = -1;
        for (int b = 0; b < batchSize; b++)
        {
            var row = _rows[(int)(cursor.Position++ % _trainRows)];
            if (length >= 0 && row.Length != length)
                throw new InvalidInputException($"{Source}: rows of {length} and {row.Length} tokens in one batch; use --batch-size 1 for rows of different lengths.");
            length = row.Length;
            tokens.AddRange(row);
        }
        return new BatchLayout(batchSize, length);
    }

    public override IEnumerable<TokenBatch> ValidationBatches(int batchSize, int seqLen, int maxBatches)
    {
        var held = _rows.Skip(_trainRows).ToArray();
        for (int k = 0; k < maxBatches && (k + 1) * batchSize <= held.Length; k++)
        {
            var group = held.Skip(k * batchSize).Take(batchSize).ToArray();
            if (group.Any(r => r.Length != group[0].Length)) continue;
            yield return new TokenBatch(new BatchLayout(batchSize, group[0].Length), group.SelectMany(r => r).ToArray());
        }
    }
}
