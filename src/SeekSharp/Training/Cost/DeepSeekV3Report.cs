using SeekSharp.Model;

namespace SeekSharp.Training;


/// <summary>
/// The training cost DeepSeek published for V3 (technical report, arXiv:2412.19437, Table 1 and §1; architecture.md §16). These
/// numbers are data, copied as printed; everything derived from them (utilisation, per-token rates) is computed
/// elsewhere by <see cref="CostModel"/>.
/// </summary>
public static class DeepSeekV3Report
{
    public const string Source = "DeepSeek-V3 Technical Report (arXiv:2412.19437), Table 1";

    /// <summary>The GPU of the table (<see cref="GpuSpecs"/> name).</summary>
    public const string Gpu = "h800";

    /// <summary>The rental price the report assumes, in dollars per GPU-hour.</summary>
    public const double PricePerGpuHour = 2;

    /// <summary>Pre-training tokens.</summary>
    public const double PretrainingTokens = 14.8e12;

    /// <summary>Pre-training sequence length.</summary>
    public const int PretrainingSequenceLength = 4096;

    public static ReportedStage Pretraining { get; } = new("pre-training", 2_664_000, 5_328_000);
    public static ReportedStage ContextExtension { get; } = new("context extension", 119_000, 238_000);
    public static ReportedStage PostTraining { get; } = new("post-training", 5_000, 10_000);
    public static ReportedStage Total { get; } = new("total", 2_788_000, 5_576_000);

    public static IReadOnlyList<ReportedStage> Stages { get; } = [Pretraining, ContextExtension, PostTraining];

    /// <summary>The two long-context phases (report §4.3, docs/architecture.md §16): 1000 steps each, at 32K then 128K tokens per
    /// sequence, batch 1920 then 480 sequences. Their tokens are steps × batch × length.</summary>
    public static IReadOnlyList<TrainingPhase> ContextExtensionPhases { get; } =
    [
        new(SequenceLength: 32 * 1024, BatchSequences: 1920, Steps: 1000),
        new(SequenceLength: 128 * 1024, BatchSequences: 480, Steps: 1000),
    ];

    /// <summary>"180K H800 GPU hours per trillion tokens".</summary>
    public const double GpuHoursPerTrillionTokens = 180_000;

    /// <summary>"3.7 days on our cluster with 2048 H800 GPUs" per trillion tokens.</summary>
    public const double DaysPerTrillionTokens = 3.7;
    public const int ClusterGpus = 2048;

    /// <summary>What the table leaves out, as the report says.</summary>
    public const string Scope = "the official training run only: prior research and ablation experiments on architectures, algorithms or data are not included";

    /// <summary>
    /// Whether <paramref name="c"/> has DeepSeek-V3's shape in every field that changes the FLOP count, so the report's
    /// table applies to it (the preset, or the released config.json).
    /// </summary>
    public static bool Describes(ModelConfig c)
    {
        var v3 = Presets.Get("deepseek-v3");
        return c.HiddenSize == v3.HiddenSize && c.VocabSize == v3.VocabSize && c.NumHiddenLayers == v3.NumHiddenLayers
            && c.FirstKDenseReplace == v3.FirstKDenseReplace && c.MoeLayerFreq == v3.MoeLayerFreq
            && c.IntermediateSize == v3.IntermediateSize && c.MoeIntermediateSize == v3.MoeIntermediateSize
            && c.NRoutedExperts == v3.NRoutedExperts && c.NSharedExperts == v3.NSharedExperts && c.NumExpertsPerTok == v3.NumExpertsPerTok
            && c.NumAttentionHeads == v3.NumAttentionHeads && c.QLoraRank == v3.QLoraRank && c.KvLoraRank == v3.KvLoraRank
            && c.QkNopeHeadDim == v3.QkNopeHeadDim && c.QkRopeHeadDim == v3.QkRopeHeadDim && c.VHeadDim == v3.VHeadDim
            && c.MtpDepth == v3.MtpDepth;
    }
}
