using SeekSharp.Model;
using SeekSharp.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Golden;

/// <summary>The forward pass against DeepSeek's reference outputs (Data/golden, made by inference/model.py).</summary>
public class GoldenForwardTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;
    private static readonly WorkerPool Pool = new(2);

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void NaiveForwardMatchesLogitsHiddenStatesRoutingAndMtp(string name) => Check(name, AttentionMode.Naive);

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void AbsorbedForwardMatchesLogitsHiddenStatesRoutingAndMtp(string name) => Check(name, AttentionMode.Absorbed);

    private void Check(string name, AttentionMode mode)
    {
        var g = new GoldenCase(name);
        var model = ModelLoader.Load(g.Dir);
        var ctx = new ForwardContext(Pool) { Attention = mode };
        var state = model.CreateState();
        model.Forward(ctx, g.Tokens, BatchLayout.Single(g.Tokens.Length), state,
            new ForwardRequest { CollectHiddenStates = true, RunMtp = true });

        var logitsErr = TestUtil.RelativeError(state.Logits.Span, g.Raw("logits.f32"));
        var hidden = state.HiddenStates.SelectMany(h => h.ToArray()).ToArray();
        var hiddenErr = TestUtil.RelativeError(hidden, g.Raw("hidden_states.f32"));
        var mtpErr = TestUtil.RelativeError(state.Mtp[0].Logits.Span, g.Raw("mtp_logits.f32"));
        var goldenHidden = g.Raw("hidden_states.f32");
        for (int l = 0; l < state.HiddenStates.Length; l++)
            output.WriteLine($"  hidden[{l}] err {TestUtil.RelativeError(state.HiddenStates[l].Span, goldenHidden.AsSpan(l * state.HiddenStates[l].Size, state.HiddenStates[l].Size)):E2}");
        output.WriteLine($"{name} {mode}: logits {logitsErr:E2}, hidden {hiddenErr:E2}, mtp {mtpErr:E2}");
        TestUtil.AssertClose(state.Logits.Span, g.Raw("logits.f32"), Tolerance, $"{name} logits");
        TestUtil.AssertClose(hidden, g.Raw("hidden_states.f32"), Tolerance, $"{name} hidden states");
        TestUtil.AssertClose(state.Mtp[0].Logits.Span, g.Raw("mtp_logits.f32"), Tolerance, $"{name} MTP logits");

        int k = model.Config.NumExpertsPerTok!.Value;
        foreach (var (layer, indices, weights) in g.Routing())
        {
            var routing = state.Layers[layer].Moe.Routing;
            for (int t = 0; t < g.Tokens.Length; t++)
            {
                var chosen = Enumerable.Range(0, k).Select(i => (routing.Indices[t * k + i], routing.Weights[t * k + i])).OrderBy(p => p.Item1).ToArray();
                Assert.Equal(indices[t], chosen.Select(c => c.Item1).ToArray());
                TestUtil.AssertClose(chosen.Select(c => c.Item2).ToArray(), weights[t], Tolerance, $"{name} layer {layer} token {t} weights");
            }
        }
    }
}
