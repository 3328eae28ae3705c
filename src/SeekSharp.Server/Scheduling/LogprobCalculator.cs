using System.Text;
using SeekSharp.Tokenization;

namespace SeekSharp.Server.Scheduling;

/// <summary>
/// Log-probabilities as OpenAI reports them: log-softmax of the model's raw logits over the tokenizer's vocabulary
/// (before temperature, penalties or any filter), for the chosen token and the n most likely ones.
/// </summary>
internal static class LogprobCalculator
{
    /// <summary>The largest n a request may ask for (OpenAI's limit).</summary>
    public const int MaxTop = 20;

    /// <summary>What an impossible token reports.</summary>
    public const float Floor = -9999f;

    public static TokenLogprob Compute(ReadOnlySpan<float> logits, int vocab, int chosen, int top, Tokenizer tokenizer)
    {
        var row = logits[..vocab];
        float max = float.NegativeInfinity;
        foreach (float v in row)
            if (v > max) max = v;                       // NaN never compares greater: skipped
        double sum = 0;
        foreach (float v in row)
            if (v > float.NegativeInfinity) sum += Math.Exp(v - max);
        double logZ = max + Math.Log(sum);

        top = Math.Clamp(top, 0, Math.Min(MaxTop, vocab));
        var best = new int[top];
        int count = 0;
        for (int id = 0; id < vocab; id++)
        {
            float v = row[id];
            if (float.IsNaN(v)) continue;
            if (count < top) { best[count++] = id; Bubble(best, count - 1, row); }
            else if (top > 0 && v > row[best[top - 1]]) { best[top - 1] = id; Bubble(best, top - 1, row); }
        }
        var choices = new TokenChoice[count];
        for (int i = 0; i < count; i++) choices[i] = Choice(best[i], row, logZ, tokenizer);
        return new TokenLogprob(Choice(chosen, row, logZ, tokenizer), choices);
    }

    /// <summary>Moves best[i] up while it beats the one before it (ties keep the lower id first).</summary>
    private static void Bubble(int[] best, int i, ReadOnlySpan<float> row)
    {
        while (i > 0 && row[best[i]] > row[best[i - 1]])
        {
            (best[i], best[i - 1]) = (best[i - 1], best[i]);
            i--;
        }
    }

    private static TokenChoice Choice(int id, ReadOnlySpan<float> row, double logZ, Tokenizer tokenizer)
    {
        var bytes = tokenizer.TokenBytes(id).ToArray();
        double lp = row[id] - logZ;
        if (!(lp >= Floor)) lp = Floor;          // −∞ and NaN: JSON has no infinity; OpenAI reports −9999 for such tokens
        return new TokenChoice(id, Encoding.UTF8.GetString(bytes), bytes, (float)lp);
    }
}
