using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Inference;

/// <summary>Perplexity of a model on a token stream, and how far a second model's predictions are from it.</summary>
public sealed record PerplexityResult
{
    public int Tokens { get; init; }
    public int Windows { get; init; }
    public double MeanNll { get; init; }
    public double Perplexity => Math.Exp(MeanNll);
    /// <summary>The compared model's perplexity, when one was given.</summary>
    public double? OtherMeanNll { get; init; }
    public double? OtherPerplexity => OtherMeanNll is { } n ? Math.Exp(n) : null;
    /// <summary>Mean KL(p_reference ‖ p_other) over the scored positions, in nats.</summary>
    public double? MeanKl { get; init; }
    public double? MaxKl { get; init; }
    /// <summary>Share of positions where both models' most likely token agree.</summary>
    public double? Top1Agreement { get; init; }
}

/// <summary>
/// Scores non-overlapping windows of <c>windowLength</c> tokens (every window starts fresh, so each position sees the
/// tokens of its window before it): NLL of each next token; optionally the same windows through a second model (a
/// quantised copy) with KL divergence and top-1 agreement against the first, as llama.cpp's perplexity tool reports.
/// </summary>
public static class Perplexity
{
    public static PerplexityResult Evaluate(DeepSeekModel model, ReadOnlySpan<int> tokens, int windowLength, WorkerPool pool,
        DeepSeekModel? other = null, int? allowedVocab = null, CancellationToken cancellationToken = default)
    {
        if (windowLength < 2) throw new InvalidInputException($"Windows need at least 2 tokens, got {windowLength}.");
        int windows = tokens.Length / windowLength;
        if (windows == 0) throw new InvalidInputException($"The text has {tokens.Length} tokens, fewer than one window of {windowLength}.");
        int vocab = allowedVocab ?? model.Config.VocabSize;
        var ctx = new ForwardContext(pool);
        var state = model.CreateState();
        var otherState = other?.CreateState();
        double nll = 0, otherNll = 0, kl = 0, maxKl = 0;
        int scored = 0, agree = 0;
        var p = new float[vocab];
        var q = new float[vocab];
        for (int w = 0; w < windows; w++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var window = tokens.Slice(w * windowLength, windowLength);
            ctx.Arena.Reset();
            model.Forward(ctx, window, BatchLayout.Single(windowLength), state);
            var a = state.Logits;
            Tensor b = default;
            if (other is not null)
            {
                other.Forward(ctx, window, BatchLayout.Single(windowLength), otherState!);
                b = otherState!.Logits;
            }
            for (int t = 0; t < windowLength - 1; t++)
            {
                int target = window[t + 1];
                var la = a.Row(t)[..vocab];
                float lseA = Softmax.LogSumExp(la);
                nll += lseA - la[target];
                scored++;
                if (other is null) continue;
                var lb = b.Row(t)[..vocab];
                float lseB = Softmax.LogSumExp(lb);
                otherNll += lseB - lb[target];
                double k = 0;
                for (int i = 0; i < vocab; i++)
                {
                    double lpa = la[i] - lseA, lpb = lb[i] - lseB;
                    k += Math.Exp(lpa) * (lpa - lpb);
                }
                kl += k;
                maxKl = Math.Max(maxKl, k);
                if (ArgMax(la) == ArgMax(lb)) agree++;
            }
        }
        return new PerplexityResult
        {
            Tokens = scored,
            Windows = windows,
            MeanNll = nll / scored,
            OtherMeanNll = other is null ? null : otherNll / scored,
            MeanKl = other is null ? null : kl / scored,
            MaxKl = other is null ? null : maxKl,
            Top1Agreement = other is null ? null : (double)agree / scored,
        };
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
