using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>The named intermediates of a forward: the catalogue agrees with what a forward reports, and the names match as documented.</summary>
public class ActivationDumpTests
{
    private static readonly WorkerPool Pool = new(2);

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void AForwardReportsEveryListedNameInOrderWithItsShape(string name)
    {
        var g = new GoldenCase(name);
        using var model = ModelLoader.Load(g.Dir);
        var dump = new ActivationDump(["*"]);
        var ctx = new ForwardContext(Pool) { Dump = dump };
        model.Forward(ctx, g.Tokens, BatchLayout.Single(g.Tokens.Length), model.CreateState(), new ForwardRequest { RunMtp = true });

        var listed = ActivationNames.For(model);
        Assert.Equal(listed.Select(a => a.Name), dump.Recorded.Select(a => a.Name));
        foreach (var (info, recorded) in listed.Zip(dump.Recorded))
        {
            Assert.Equal(g.Tokens.Length - info.FewerRows, recorded.Rows);
            Assert.Equal(info.RowShape, recorded.RowShape);
            Assert.Equal(info.IsInt32, recorded.IsInt32);
        }
    }

    [Fact]
    public void TheDumpedValuesAreTheForwardsOwn()
    {
        var g = new GoldenCase("v3_yarn_f32");
        using var model = ModelLoader.Load(g.Dir);
        var dump = new ActivationDump(["layers.2.*", "logits"]);
        var state = model.CreateState();
        model.Forward(new ForwardContext(Pool) { Dump = dump }, g.Tokens, BatchLayout.Single(g.Tokens.Length), state,
            new ForwardRequest { CollectHiddenStates = true });
        Assert.Null(dump.Find("layers.1.out"));
        Assert.Equal(state.Logits.Span.ToArray(), dump.Find("logits")!.Float32.ToArray());
        Assert.Equal(state.HiddenStates[3].Span.ToArray(), dump.Find("layers.2.out")!.Float32.ToArray());
        var routing = state.Layers[2].Moe.Routing;
        Assert.Equal(routing.Indices.AsSpan(0, g.Tokens.Length * 4).ToArray(), dump.Find("layers.2.ffn.router.indices")!.Int32.ToArray());
        // The layer's output is its input plus the attention and FFN outputs; the FFN is routed + shared experts.
        var residual = dump.Find("layers.2.residual")!.Float32.ToArray();
        var ffn = dump.Find("layers.2.ffn.out")!.Float32.ToArray();
        var output = dump.Find("layers.2.out")!.Float32.ToArray();
        for (int i = 0; i < output.Length; i++) Assert.Equal(residual[i] + ffn[i], output[i]);
    }

    [Theory]
    [InlineData("layers.*.attn.q", "layers.12.attn.q", true)]
    [InlineData("layers.*.attn.q", "mtp.0.attn.q", false)]
    [InlineData("layers.*.attn.q", "layers.1.attn.qq", false)]
    [InlineData("layers.*.out", "layers.0.out", true)]
    [InlineData("layers.*.out", "layers.0.attn.out", false)]
    [InlineData("layers.1*.out", "layers.10.out", true)]
    [InlineData("layers.1.*", "layers.1.attn.kr", true)]
    [InlineData("layers.*.attn.*", "layers.2.attn.o", true)]
    [InlineData("layers.*.attn.*", "layers.2.ffn.out", false)]
    [InlineData("layers.*", "layers", false)]
    [InlineData("*", "mtp.0.ffn.router.indices", true)]
    [InlineData("*", "embed", true)]
    [InlineData("logits", "mtp.0.logits", false)]
    [InlineData("*.*.logits", "mtp.0.logits", true)]
    [InlineData("embed", "embed", true)]
    [InlineData("", "embed", false)]
    public void StarMatchesWithinAPartAndAFinalStarMatchesEverythingBelow(string pattern, string name, bool matches) =>
        Assert.Equal(matches, ActivationNames.Matches(pattern, name));
}
