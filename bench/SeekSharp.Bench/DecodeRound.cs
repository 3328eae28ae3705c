using System.Diagnostics;
using SeekSharp.Model;

namespace SeekSharp.Bench;

/// <summary>
/// One round of llama-bench's pp/tg on a SeekSharp model: a batched prefill of the prompt through the latent KV cache
/// (in chunks of <paramref name="prefillChunk"/> tokens for long contexts), then single-token decode steps feeding back
/// the argmax. Shared by the `forward`, `llama` and `peers` verbs.
/// </summary>
internal sealed class DecodeRound(DeepSeekModel model, ForwardContext ctx, int[] prompt, int generate, int prefillChunk = int.MaxValue)
{
    private readonly ModelState _state = model.CreateState();
    private readonly LatentKvCache _cache = new(model.Config.NumHiddenLayers, prompt.Length + generate, model.Config.KvLoraRank, model.Config.QkRopeHeadDim);
    private static readonly ForwardRequest LastRow = new() { LogitsRows = LogitsRows.LastPerSequence };

    /// <summary>The tokens the last round generated: the argmax after the prompt, then after each decode step.</summary>
    public int[] Generated { get; } = new int[generate];

    /// <summary>Prefill and decode tokens/s of one round.</summary>
    public (double Prefill, double Decode) Run()
    {
        _cache.Length = 0;
        var t = Stopwatch.StartNew();
        for (int start = 0; start < prompt.Length; start += prefillChunk)
        {
            int n = Math.Min(prefillChunk, prompt.Length - start);
            ctx.Arena.Reset();
            model.Forward(ctx, prompt.AsSpan(start, n), BatchLayout.Single(n, start), _state, LastRow, _cache);
        }
        double prefill = prompt.Length / t.Elapsed.TotalSeconds;
        int next = ArgMax(_state.Logits.Row(0));
        t.Restart();
        for (int i = 0; i < generate; i++)
        {
            Generated[i] = next;
            ctx.Arena.Reset();
            model.Forward(ctx, [next], BatchLayout.Single(1, prompt.Length + i), _state, null, _cache);
            next = ArgMax(_state.Logits.Row(0));
        }
        return (prefill, generate / t.Elapsed.TotalSeconds);
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
