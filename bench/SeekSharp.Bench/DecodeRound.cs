using System.Diagnostics;
using SeekSharp.Model;

namespace SeekSharp.Bench;

/// <summary>
/// One round of llama-bench's pp/tg on a SeekSharp model: a batched prefill of the prompt through the latent KV cache,
/// then single-token decode steps feeding back the argmax. Shared by the `forward` and `llama` verbs.
/// </summary>
internal sealed class DecodeRound(DeepSeekModel model, ForwardContext ctx, int[] prompt, int generate)
{
    private readonly ModelState _state = model.CreateState();
    private readonly LatentKvCache _cache = new(model.Config.NumHiddenLayers, prompt.Length + generate, model.Config.KvLoraRank, model.Config.QkRopeHeadDim);
    private static readonly ForwardRequest LastRow = new() { LogitsRows = LogitsRows.LastPerSequence };

    /// <summary>Prefill and decode tokens/s of one round.</summary>
    public (double Prefill, double Decode) Run()
    {
        _cache.Length = 0;
        ctx.Arena.Reset();
        var t = Stopwatch.StartNew();
        model.Forward(ctx, prompt, BatchLayout.Single(prompt.Length), _state, LastRow, _cache);
        double prefill = prompt.Length / t.Elapsed.TotalSeconds;
        int next = ArgMax(_state.Logits.Row(0));
        t.Restart();
        for (int i = 0; i < generate; i++)
        {
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
