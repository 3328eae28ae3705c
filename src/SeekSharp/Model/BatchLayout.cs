namespace SeekSharp.Model;

/// <summary>
/// How the N = B·T rows of a forward are laid out: B sequences of T tokens each, row b·T + t holding token t of
/// sequence b at position <see cref="StartPosition"/> + t. Attention never crosses sequences.
/// </summary>
public readonly record struct BatchLayout(int Batch, int SeqLen, int StartPosition = 0)
{
    public int Rows => Batch * SeqLen;
    public static BatchLayout Single(int seqLen, int startPosition = 0) => new(1, seqLen, startPosition);
}
