using SeekSharp.Model;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>The FLOP counter against arithmetic done by hand, and its linear terms against the checkpoint layout.</summary>
[Collection(CostTests.Collection)]
public class CostFlopsTests
{
    /// <summary>The tiny preset's shape, spelled out so the hand arithmetic below does not depend on the preset file.</summary>
    internal static ModelConfig Small(int? expertsPerToken = null, int mtp = 1)
    {
        var c = new ModelConfig
        {
            VocabSize = 512, HiddenSize = 64, IntermediateSize = 128, MoeIntermediateSize = 32,
            NumHiddenLayers = 3, FirstKDenseReplace = 1, NumAttentionHeads = 4,
            NRoutedExperts = 16, NSharedExperts = 1, NumExpertsPerTok = expertsPerToken ?? 4,
            NGroup = expertsPerToken is null ? 4 : 1, TopkGroup = expertsPerToken is null ? 2 : 1,
            TopkMethodName = "noaux_tc", ScoringFuncName = "sigmoid",
            QLoraRank = 48, KvLoraRank = 32, QkNopeHeadDim = 16, QkRopeHeadDim = 8, VHeadDim = 16,
            NumNextnPredictLayers = mtp,
        };
        c.Validate();
        return c;
    }

    // d 64, n_h 4, d_qk 16 + 8 = 24, d_v 16, d_c 32, d_q' 48, I 128, I_e 32, 4 routed + 1 shared, 16 experts, V 512.
    // Per token per layer:
    //   q_a 2·64·48 = 6144, q_b 2·48·(4·24) = 9216, kv_a 2·64·(32 + 8) = 5120, kv_b 2·32·(4·32) = 8192, o 2·(4·16)·64 = 8192
    //   → attention projections 36 864
    //   dense FFN 3·2·64·128 = 49 152; MoE 3·2·64·32·(4 + 1) = 61 440; router 2·64·16 = 2 048
    // Head 2·64·512 = 65 536. eh_proj 2·128·64 = 16 384.
    // Attention scores, T = 8 causal: a query sees (8 + 1)/2 = 4.5 keys on average: 2·4·(24 + 16)·4.5 = 1 440 per layer.
    private const double AttentionProjections = 36_864, Dense = 49_152, Moe = 61_440, Router = 2_048, Head = 65_536, EhProj = 16_384;

    [Fact]
    public void ForwardMatchesTheHandCountForASmallConfig()
    {
        var f = FlopCounter.Forward(Small(), sequenceLength: 8);

        Assert.Equal(3 * AttentionProjections, f.Main.AttentionProjections);   // 110 592
        Assert.Equal(3 * 1_440.0, f.Main.AttentionScores);                       // 4 320
        Assert.Equal(Dense, f.Main.DenseFfn);                                     // layer 0 only
        Assert.Equal(2 * Moe, f.Main.MoeExperts);                                 // layers 1 and 2
        Assert.Equal(2 * Router, f.Main.Router);
        Assert.Equal(Head, f.Main.Head);
        Assert.Equal(0, f.Main.EhProjection);
        Assert.Equal(356_576, f.Main.Total);

        // MTP (its block is layer 3, an MoE layer) runs on the 7 positions with a token one step ahead, attending over
        // a sequence of 7: (7 + 1)/2 = 4 keys, 2·4·40·4 = 1 280. Per position 16 384 + 36 864 + 1 280 + 61 440 + 2 048
        // + 65 536 = 183 552; per trained token × 7/8 = 160 608.
        Assert.Equal(EhProj * 7 / 8, f.Mtp.EhProjection);
        Assert.Equal(1_280.0 * 7 / 8, f.Mtp.AttentionScores);
        Assert.Equal(Moe * 7 / 8, f.Mtp.MoeExperts);
        Assert.Equal(Head * 7 / 8, f.Mtp.Head);
        Assert.Equal(160_608, f.Mtp.Total);
        Assert.Equal(517_184, f.Total);
    }

    [Fact]
    public void TrainingIsThreeForwardPasses()
    {
        var cost = CostModel.For(Small(), sequenceLength: 8);
        Assert.Equal(3 * 517_184.0, cost.Training.Total);
        Assert.Equal(3 * cost.Forward.Main.Head, cost.Training.Main.Head);
        Assert.Equal(cost.Forward.Main, cost.Inference);
    }

    [Fact]
    public void FullSpanCountsTheWholeSquare()
    {
        var f = FlopCounter.Forward(Small(), sequenceLength: 8, span: AttentionSpan.Full);
        Assert.Equal(3 * 2 * 4 * 40 * 8.0, f.Main.AttentionScores);               // 8 keys per query
        Assert.Equal(2 * 4 * 40 * 7.0 * 7 / 8, f.Mtp.AttentionScores);            // 7 keys, 7 of 8 positions
        Assert.Equal(FlopCounter.Forward(Small(), 8).Main.AttentionProjections, f.Main.AttentionProjections);
    }

    [Fact]
    public void BreakdownSumsToTheTotal()
    {
        foreach (var c in new[] { Small(), Presets.Get("deepseek-v3"), Presets.Get("deepseek-v2-lite") })
        {
            var f = CostModel.For(c).Training;
            double parts = f.Main.AttentionProjections + f.Main.AttentionScores + f.Main.DenseFfn + f.Main.MoeExperts
                + f.Main.Router + f.Main.Head + f.Mtp.Total;
            Assert.Equal(f.Total, parts, 1e-9 * f.Total);
            double mtpParts = f.Mtp.EhProjection + f.Mtp.AttentionProjections + f.Mtp.AttentionScores + f.Mtp.DenseFfn
                + f.Mtp.MoeExperts + f.Mtp.Router + f.Mtp.Head;
            Assert.Equal(f.Mtp.Total, mtpParts, 1e-9 * f.Total);
        }
    }

    /// <summary>With every expert active, the weight matmuls cost exactly 2 FLOPs per matrix parameter of the layout.</summary>
    [Fact]
    public void LinearTermsAreTwicePerMatrixParameterOfTheLayout()
    {
        var c = Small(expertsPerToken: 16);
        const int t = 64;
        var f = FlopCounter.Forward(c, t);
        long mainMatrices = CheckpointLayout.MainModel(c).Where(p => p.Role == ParameterRole.Matrix).Sum(p => p.ElementCount);
        Assert.Equal(2.0 * mainMatrices, f.Main.Total - f.Main.AttentionScores);
        // The MTP module's own matrices plus the head it shares (its embedding copy is a lookup).
        long mtpMatrices = CheckpointLayout.MtpModule(c, 0).Where(p => p.Role == ParameterRole.Matrix).Sum(p => p.ElementCount);
        Assert.Equal(2.0 * mtpMatrices * (t - 1) / t, f.Mtp.Total - f.Mtp.AttentionScores, 1e-6);
    }

    [Fact]
    public void QProjWithoutLora()
    {
        var c = Small() with { QLoraRank = null };
        // q_proj 2·64·96 = 12 288 instead of 6 144 + 9 216.
        Assert.Equal(36_864 - 15_360 + 12_288, FlopCounter.AttentionProjections(c));
    }

    [Fact]
    public void NoMtpMeansNoMtpFlops()
    {
        var f = FlopCounter.Forward(Small(mtp: 0), 8);
        Assert.Equal(FlopsBreakdown.Zero, f.Mtp);
        Assert.Equal(356_576, f.Total);
        // A one-token sequence has no position with a token ahead: the MTP module does nothing.
        Assert.Equal(0, FlopCounter.Forward(Small(), 1).Mtp.Total);
    }

    [Fact]
    public void DecodeStepNaiveAndAbsorbed()
    {
        var c = Small();
        var naive = FlopCounter.DecodeStep(c, context: 10, MlaForm.Naive);
        var absorbed = FlopCounter.DecodeStep(c, context: 10, MlaForm.Absorbed);
        // Naive: 2·4·(24 + 16)·10 = 3 200 per layer; absorbed: 2·4·(32 + 8)·10 + 2·4·32·10 = 5 760 per layer.
        Assert.Equal(3 * 3_200.0, naive.AttentionScores);
        Assert.Equal(3 * 5_760.0, absorbed.AttentionScores);
        // W^UK (2·4·16·32 = 4 096) plus W^UV (2·4·32·16 = 4 096) cost what kv_b_proj does (8 192).
        Assert.Equal(naive.AttentionProjections, absorbed.AttentionProjections);
        Assert.Equal(356_576 - 4_320 + 9_600, naive.Total);
    }

    [Fact]
    public void DeepSeekV3PerLayerArithmetic()
    {
        var c = Presets.Get("deepseek-v3");
        // q_a 2·7168·1536 + q_b 2·1536·(128·192) + kv_a 2·7168·576 + kv_b 2·512·(128·256) + o 2·(128·128)·7168
        double projections = 22_020_096 + 75_497_472 + 8_257_536 + 33_554_432 + 234_881_024.0;
        Assert.Equal(374_210_560, projections);
        Assert.Equal(projections, FlopCounter.AttentionProjections(c));
        var f = FlopCounter.Forward(c);
        Assert.Equal(61 * projections, f.Main.AttentionProjections);
        Assert.Equal(61.0 * 128 * 320 * 4097, f.Main.AttentionScores);          // 2·n_h·(192 + 128)·4097/2 per layer
        Assert.Equal(3.0 * 6 * 7168 * 18432, f.Main.DenseFfn);
        Assert.Equal(58.0 * 6 * 7168 * 2048 * 9, f.Main.MoeExperts);            // 8 routed + 1 shared
        Assert.Equal(58.0 * 2 * 7168 * 256, f.Main.Router);
        Assert.Equal(2.0 * 7168 * 129280, f.Main.Head);
        Assert.InRange(CostModel.For(c).Training.Total / 1e9, 260, 261);
    }

    [Fact]
    public void BadLengthsAreErrors()
    {
        Assert.Throws<InvalidInputException>(() => FlopCounter.Forward(Small(), 0));
        Assert.Throws<InvalidInputException>(() => FlopCounter.DecodeStep(Small(), -1, MlaForm.Naive));
    }
}

/// <summary>
/// The cost tests run alone, after the parallel ones: they are pure arithmetic and take about a second, and running
/// them beside tests that measure process-wide allocation (DecodeAllocationTests) would skew those.
/// </summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class CostTests
{
    public const string Collection = "Cost";
}
