using SeekSharp.Model;

namespace SeekSharp.Training;

/// <summary>
/// How a training run is split over GPUs, and the assumptions the planner prices it with (docs/cost.md, "Planning a
/// parallel layout"). N = PP × EP × DP: each of the PP pipeline stages holds a contiguous run of layers on EP × DP
/// GPUs; those GPUs all train on different data (data parallel for everything but the routed experts), and each MoE
/// layer's routed experts are split over the EP GPUs of a stage and copied DP times. DeepSeek-V3's report: 2,048 H800s,
/// PP16 × EP64 × DP2, ZeRO-1.
/// </summary>
public sealed record ParallelLayout
{
    public required int Gpus { get; init; }
    public required int Pipeline { get; init; }
    public required int Expert { get; init; }
    public int Data => Gpus / (Pipeline * Expert);
    /// <summary>Sequences per optimiser step, over the whole cluster.</summary>
    public required int GlobalBatch { get; init; }
    public required int SequenceLength { get; init; }
    /// <summary>Sequences per micro-batch on one GPU.</summary>
    public int MicroBatch { get; init; } = 1;
    public int GpusPerNode { get; init; } = 8;
    /// <summary>Bytes per value: compute weights (BF16), FP32 master copy and gradients, BF16 Adam moments (report §3.3).</summary>
    public double WeightBytes { get; init; } = 2;
    public double MasterBytes { get; init; } = 4;
    public double GradientBytes { get; init; } = 4;
    public double MomentBytes { get; init; } = 2 + 2;
    /// <summary>Per GPU, GB/s: InfiniBand and NVLink as the report gives them for H800 (50 and 160).</summary>
    public double InfiniBandGBps { get; init; } = 50;
    public double NvLinkGBps { get; init; } = 160;

    public void Validate(ModelConfig c)
    {
        if (Gpus <= 0 || Pipeline <= 0 || Expert <= 0) throw new InvalidInputException("--gpus, --pp and --ep must be positive.");
        if (Gpus % (Pipeline * Expert) != 0) throw new InvalidInputException($"--gpus {Gpus} is not a multiple of --pp {Pipeline} × --ep {Expert}.");
        if (Pipeline > c.NumHiddenLayers) throw new InvalidInputException($"--pp {Pipeline} is more stages than the {c.NumHiddenLayers} layers.");
        int experts = c.NRoutedExperts ?? 0;
        if (experts > 0 && experts % Expert != 0) throw new InvalidInputException($"--ep {Expert} does not divide the {experts} routed experts.");
        if (experts == 0 && Expert != 1) throw new InvalidInputException("--ep needs a model with routed experts.");
        if (GlobalBatch <= 0 || GlobalBatch % (Expert * Data * MicroBatch) != 0)
            throw new InvalidInputException($"--global-batch {GlobalBatch} must be a positive multiple of EP × DP × micro-batch = {Expert * Data * MicroBatch}.");
        if (SequenceLength <= 0) throw new InvalidInputException($"--seq-len must be positive, got {SequenceLength}.");
        if (!(InfiniBandGBps > 0 && NvLinkGBps > 0)) throw new InvalidInputException("--ib-gbps and --nvlink-gbps must be positive.");
    }
}

/// <summary>One GPU's share under a <see cref="ParallelLayout"/>: memory, all-to-all traffic and step-time bounds.</summary>
/// <remarks>
/// <para>Memory (the heaviest stage): its parameters are the stage's layers (the first stage adds the embedding, the last
/// the final norm, head and MTP modules), with routed experts divided by EP. Compute weights and gradients are held in
/// full; ZeRO-1 shards the FP32 master copy and the Adam moments over the GPUs that hold the same parameters (EP × DP for
/// non-expert ones, DP for experts). Activations are an upper bound without recomputation: BF16 inputs of every matmul
/// a layer's backward needs, per token, times the micro-batches a 1F1B pipeline keeps in flight on its first stage (PP).</para>
/// <para>All-to-all (the stage with the most MoE layers): per token and MoE layer, dispatch sends the hidden state in FP8 and combine returns it in BF16, and
/// the backward sends both directions in BF16; node-limited routing sends each token to at most topk_group nodes once
/// over InfiniBand (then NVLink forwards it to the experts' GPUs on that node).</para>
/// <para>Bounds: compute at the mixed FP8/BF16 peak with every FLOP counted by <see cref="CostModel"/>, and InfiniBand
/// at its bandwidth; a real step takes longer than either (pipeline bubbles, elementwise work, imperfect overlap).</para>
/// </remarks>
public sealed record ParallelPlan(ModelConfig Config, ParallelLayout Layout, GpuSpec Gpu)
{
    public IReadOnlyList<StageShare> Stages { get; } = SplitStages(Config, Layout);
    private readonly CostModel _cost = CostModel.For(Config, Layout.SequenceLength);

    /// <summary>One pipeline stage: its layers and its parameters per GPU (routed experts divided by EP).</summary>
    public sealed record StageShare(int Stage, int FirstLayer, int Layers, bool Embedding, bool Head, double NonExpertParameters, double ExpertParameters);

    public StageShare Heaviest => Stages.MaxBy(s => s.NonExpertParameters + s.ExpertParameters)!;

    public double TokensPerStep => (double)Layout.GlobalBatch * Layout.SequenceLength;
    /// <summary>Tokens each GPU of a stage processes per step: its data-parallel share (EP × DP ranks per stage).</summary>
    public double TokensPerGpu => TokensPerStep / (Layout.Expert * Layout.Data);

    public double WeightBytes => (Heaviest.NonExpertParameters + Heaviest.ExpertParameters) * Layout.WeightBytes;
    public double GradientBytes => (Heaviest.NonExpertParameters + Heaviest.ExpertParameters) * Layout.GradientBytes;
    public double OptimizerBytes =>
        Heaviest.NonExpertParameters * (Layout.MasterBytes + Layout.MomentBytes) / (Layout.Expert * Layout.Data)
        + Heaviest.ExpertParameters * (Layout.MasterBytes + Layout.MomentBytes) / Layout.Data;
    public double ActivationBytes => ActivationBytesPerTokenPerLayer(Config) * Heaviest.Layers * Layout.MicroBatch * Layout.SequenceLength * Layout.Pipeline;

    /// <summary>Destination nodes per token and MoE layer over InfiniBand: at most topk_group, at most the EP group's nodes.</summary>
    public int NodesPerToken => Math.Min(Config.TopkGroup ?? int.MaxValue, Math.Max(1, Layout.Expert / Layout.GpusPerNode));
    /// <summary>MoE layers a stage runs (the last stage's MTP modules included).</summary>
    public int MoeLayersOn(StageShare s) => Enumerable.Range(s.FirstLayer, s.Layers).Count(Config.IsMoeLayer) + (s.Head && Config.HasMoe ? Config.MtpDepth : 0);
    /// <summary>The stage with the most MoE layers: its GPUs carry the most all-to-all traffic.</summary>
    public StageShare BusiestMoeStage => Stages.MaxBy(MoeLayersOn)!;
    public double MoeLayersPerStage => MoeLayersOn(BusiestMoeStage);
    /// <summary>Bytes a token costs per MoE layer per destination: FP8 dispatch + BF16 combine forward, BF16 both ways backward.</summary>
    public double BytesPerTokenPerDestination => Config.HiddenSize * (1.0 + 2 + 2 + 2);
    public double InfiniBandBytesPerStep => Layout.Expert == 1 ? 0 : TokensPerGpu * MoeLayersPerStage * NodesPerToken * BytesPerTokenPerDestination;
    public double NvLinkBytesPerStep => Layout.Expert == 1 ? 0 : TokensPerGpu * MoeLayersPerStage * (Config.NumExpertsPerTok ?? 0) * BytesPerTokenPerDestination;

    public double TrainingFlopsPerStep => TokensPerStep * _cost.Training.Total;
    public double PeakFlops => _cost.PeakFlops(Gpu, Gpu.Fp8DenseTflops is null ? PeakPrecision.Bf16 : PeakPrecision.Mixed);
    /// <summary>Seconds per step if every GPU ran at its peak with perfect balance.</summary>
    public double ComputeBoundSeconds => TrainingFlopsPerStep / Layout.Gpus / PeakFlops;
    public double InfiniBandBoundSeconds => InfiniBandBytesPerStep / (Layout.InfiniBandGBps * 1e9);
    public double NvLinkBoundSeconds => NvLinkBytesPerStep / (Layout.NvLinkGBps * 1e9);
    /// <summary>GPU-hours per trillion tokens at the compute bound (100% of the mixed peak).</summary>
    public double GpuHoursPerTrillionTokensAtPeak => Layout.Gpus * ComputeBoundSeconds / 3600 * (1e12 / TokensPerStep);

    /// <summary>BF16 bytes a layer's backward needs per token (no recomputation): every matmul's input, and q, k, v.</summary>
    public static double ActivationBytesPerTokenPerLayer(ModelConfig c)
    {
        int d = c.HiddenSize, h = c.NumAttentionHeads;
        double attention = d + (c.QLoraRank ?? 0) + c.KvLoraRank + h * (2.0 * c.QkHeadDim + c.VHeadDim) + h * c.VHeadDim;
        double ffn = c.HasMoe
            ? d + (c.NumExpertsPerTok!.Value + (c.NSharedExperts ?? 0)) * 3.0 * c.MoeIntermediateSize
            : d + 3.0 * c.IntermediateSize;
        return 2 * (attention + ffn);
    }

    private static IReadOnlyList<StageShare> SplitStages(ModelConfig c, ParallelLayout l)
    {
        var perLayer = new double[c.NumHiddenLayers + c.MtpDepth];
        var expertPerLayer = new double[perLayer.Length];
        double embedding = 0, head = 0;
        var specs = CheckpointLayout.MainModel(c).Concat(Enumerable.Range(0, c.MtpDepth).SelectMany(k => CheckpointLayout.MtpModule(c, k, includeSharedCopies: false)));
        foreach (var p in specs)
        {
            const string prefix = "model.layers.";
            if (p.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                int layer = int.Parse(p.Name.AsSpan(prefix.Length, p.Name.IndexOf('.', prefix.Length) - prefix.Length));
                if (p.Name.Contains(".mlp.experts.", StringComparison.Ordinal)) expertPerLayer[layer] += p.ElementCount;
                else perLayer[layer] += p.ElementCount;
            }
            else if (p.Name.Contains("embed_tokens", StringComparison.Ordinal)) embedding += p.ElementCount;
            else head += p.ElementCount;   // lm_head and the final norm
        }
        // Contiguous stages; the layers that do not divide evenly go to the middle stages, away from the embedding and head.
        int baseLayers = c.NumHiddenLayers / l.Pipeline, extra = c.NumHiddenLayers % l.Pipeline;
        int firstExtra = (l.Pipeline - extra) / 2;
        var stages = new List<StageShare>();
        int layer0 = 0;
        for (int s = 0; s < l.Pipeline; s++)
        {
            int n = baseLayers + (s >= firstExtra && s < firstExtra + extra ? 1 : 0);
            double dense = 0, experts = 0;
            for (int i = layer0; i < layer0 + n; i++) { dense += perLayer[i]; experts += expertPerLayer[i]; }
            bool first = s == 0, last = s == l.Pipeline - 1;
            if (first) dense += embedding;
            if (last)
            {
                dense += head;
                for (int k = 0; k < c.MtpDepth; k++) { dense += perLayer[c.NumHiddenLayers + k]; experts += expertPerLayer[c.NumHiddenLayers + k]; }
            }
            stages.Add(new StageShare(s, layer0, n, first, last, dense, experts / l.Expert));
            layer0 += n;
        }
        return stages;
    }
}
