using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Model;

/// <summary>
/// The DeepSeek-V3 network (architecture.md §2): embedding → decoder layers (MLA + dense or MoE FFN) → final norm → head, plus
/// the MTP modules. Holds the parameters; activations live in a <see cref="ModelState"/> and a <see cref="ForwardContext"/>.
/// </summary>
public sealed class DeepSeekModel : IDisposable
{
    private readonly Dictionary<string, Parameter> _byName;
    private readonly List<Parameter> _unique;
    private readonly List<IDisposable> _owned = new();

    public ModelConfig Config { get; }
    public Rope Rope { get; }
    public Parameter Embed { get; }
    public DecoderLayer[] Layers { get; }
    public RmsNormLayer FinalNorm { get; }
    public Parameter Head { get; }
    public MtpModule[] Mtp { get; }

    /// <summary>Every distinct parameter, in checkpoint order; shared tensors appear once.</summary>
    public IReadOnlyList<Parameter> Parameters => _unique;

    private DeepSeekModel(ModelConfig config, Dictionary<string, Parameter> byName)
    {
        Config = config;
        _byName = byName;
        Rope = new Rope(config);
        Parameter P(string name) => byName.TryGetValue(name, out var p) ? p : throw new InvalidOperationException($"The layout has no tensor '{name}'.");
        Embed = P(CheckpointLayout.Embed);
        Layers = Enumerable.Range(0, config.NumHiddenLayers).Select(l => new DecoderLayer(config, Rope, P, l)).ToArray();
        FinalNorm = new RmsNormLayer(P(CheckpointLayout.FinalNorm), (float)config.RmsNormEps);
        Head = P(CheckpointLayout.Head);
        Mtp = Enumerable.Range(0, config.MtpDepth).Select(k => new MtpModule(config, Rope, P, k)).ToArray();
        _unique = new List<Parameter>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var spec in CheckpointLayout.All(config))
            if (seen.Add(byName[spec.Name])) _unique.Add(byName[spec.Name]);
    }

    /// <summary>
    /// A model with zeroed weights (norms 1) for <paramref name="config"/>; matrices stored as <paramref name="matrixStorage"/>.
    /// The MTP modules' embedding and head are the main model's tensors.
    /// </summary>
    public static DeepSeekModel Create(ModelConfig config, ElementType matrixStorage = ElementType.F32) => Create(config, (ElementType?)matrixStorage);

    /// <summary>A model whose parameters hold no values yet: a loader gives each its weight (views, not copies).</summary>
    internal static DeepSeekModel CreateEmpty(ModelConfig config) => Create(config, null);

    private static DeepSeekModel Create(ModelConfig config, ElementType? matrixStorage)
    {
        config.Validate();
        var byName = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        foreach (var spec in CheckpointLayout.All(config))
        {
            if (IsMtpCopy(config, spec.Name, out var main)) { byName[spec.Name] = byName[main]; continue; }
            var p = new Parameter(spec, matrixStorage is null ? null : spec.Role is ParameterRole.Matrix or ParameterRole.Embedding ? matrixStorage : ElementType.F32);
            if (spec.Role == ParameterRole.Norm && p.HasValues) p.Span.Fill(1f);
            byName[spec.Name] = p;
        }
        return new DeepSeekModel(config, byName);
    }

    /// <summary>
    /// Keeps <paramref name="resource"/> (the memory-mapped checkpoint that weights are viewed in) open until the model
    /// is disposed.
    /// </summary>
    public void Own(IDisposable resource) => _owned.Add(resource);

    /// <summary>Bytes of weight storage (each distinct tensor once); viewed weights count, as they are mapped.</summary>
    public long WeightBytes => _unique.Sum(p => p.HasValues ? p.Weight.ByteSize : 0);

    /// <summary>
    /// Closes the files the weights are viewed in. The model must not be used afterwards (a viewed weight would read
    /// unmapped memory).
    /// </summary>
    public void Dispose()
    {
        foreach (var r in _owned) r.Dispose();
        _owned.Clear();
    }

    /// <summary>Whether <paramref name="name"/> is an MTP module's copy of the embedding or head, and of which.</summary>
    public static bool IsMtpCopy(ModelConfig config, string name, out string mainName)
    {
        for (int k = 0; k < config.MtpDepth; k++)
        {
            string pre = CheckpointLayout.LayerPrefix(config.NumHiddenLayers + k);
            if (name == pre + CheckpointLayout.MtpEmbed) { mainName = CheckpointLayout.Embed; return true; }
            if (name == pre + CheckpointLayout.MtpHead) { mainName = CheckpointLayout.Head; return true; }
        }
        mainName = "";
        return false;
    }

    /// <summary>The parameter stored under a checkpoint name (shared tensors answer to every name).</summary>
    public Parameter GetParameter(string name) =>
        _byName.TryGetValue(name, out var p) ? p : throw new InvalidInputException($"The model has no tensor named '{name}'.");

    public bool TryGetParameter(string name, out Parameter parameter) => _byName.TryGetValue(name, out parameter!);

    /// <summary>Every checkpoint name with its parameter, in checkpoint order (shared tensors under each name).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters() =>
        CheckpointLayout.All(Config).Select(s => (s.Name, _byName[s.Name]));

    /// <summary>Gives an MTP module its own copy of the embedding or head (a checkpoint whose copies differ).</summary>
    internal void Unshare(string name, Parameter own)
    {
        _byName[name] = own;
        foreach (var m in Mtp)
        {
            string pre = CheckpointLayout.LayerPrefix(Config.NumHiddenLayers + m.Depth);
            if (name == pre + CheckpointLayout.MtpEmbed) m.Embed = own;
            if (name == pre + CheckpointLayout.MtpHead) m.Head = own;
        }
        _unique.Clear();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var spec in CheckpointLayout.All(Config))
            if (seen.Add(_byName[spec.Name])) _unique.Add(_byName[spec.Name]);
    }

    public ModelState CreateState() => new(this);

    /// <summary>
    /// Runs the model on <paramref name="tokens"/> laid out as <paramref name="batch"/> (equal-length sequences), or,
    /// with a cache, as one sequence continuing in it at position StartPosition. Results are in <paramref name="state"/>.
    /// </summary>
    public void Forward(ForwardContext ctx, ReadOnlySpan<int> tokens, BatchLayout batch, ModelState state,
        ForwardRequest? request = null, LatentKvCache? cache = null)
    {
        if (tokens.Length != batch.Rows) throw new InvalidInputException($"{tokens.Length} tokens for a batch of {batch.Batch} × {batch.SeqLen}.");
        Forward(ctx, tokens, state.Layout.Set(batch, cache), state, request);
    }

    /// <summary>
    /// Runs the model on <paramref name="tokens"/> laid out as <paramref name="batch"/>: sequences of any lengths, each at
    /// its own position, each continuing in its own cache or attending to itself (see <see cref="RaggedBatch"/>). Every
    /// cache holds its sequence up to its segment's end afterwards. Results are in <paramref name="state"/>; with
    /// <see cref="LogitsRows.LastPerSequence"/>, logits row s is segment s's last token.
    /// </summary>
    public void Forward(ForwardContext ctx, ReadOnlySpan<int> tokens, RaggedBatch batch, ModelState state, ForwardRequest? request = null)
    {
        request ??= ForwardRequest.Default;
        int n = batch.Rows, d = Config.HiddenSize;
        if (tokens.Length != n) throw new InvalidInputException($"{tokens.Length} tokens for a batch of {n} rows.");
        if (n == 0) throw new InvalidInputException("Nothing to run: the batch has no tokens.");
        for (int i = 0; i < n; i++)
            if ((uint)tokens[i] >= (uint)Config.VocabSize)
                throw new InvalidInputException($"Token id {tokens[i]} at position {i} is outside the vocabulary [0, {Config.VocabSize}).");
        batch.ValidateCaches(Config.MaxPositionEmbeddings);
        bool uniform = batch.TryGetUniform(out var layout);
        if ((ctx.SaveActivations || request.RunMtp) && !uniform)
            throw new InvalidInputException("Training and teacher-forced MTP take equal-length sequences without caches.");

        var arena = ctx.Arena;
        state.Batch = uniform ? layout : new BatchLayout(1, n);
        state.SetTokens(tokens);
        var h = arena.AllocateUninitialized(new TensorShape(n, d));       // [N, d] residual stream
        for (int i = 0; i < n; i++) Embed.ReadRow(tokens[i], h.Row(i));
        ctx.Dump?.Record("", "embed", h);
        var hidden = request.CollectHiddenStates ? new Tensor[Layers.Length + 1] : Array.Empty<Tensor>();
        if (request.CollectHiddenStates) hidden[0] = Snapshot(arena, h);
        for (int l = 0; l < Layers.Length; l++)
        {
            Layers[l].Forward(ctx, h, batch, state.Layers[l], l);
            if (request.CollectHiddenStates) hidden[l + 1] = Snapshot(arena, h);
        }
        batch.CommitCaches();
        state.HiddenStates = hidden;
        state.Hidden = h;

        var normed = arena.AllocateUninitialized(new TensorShape(n, d));  // [N, d]
        var rstd = ctx.SaveActivations ? new float[n] : Array.Empty<float>();
        FinalNorm.Forward(h, normed, ctx.SaveActivations ? rstd : default);
        ctx.Dump?.Record("", "norm", normed);
        state.Normed = normed;
        state.NormRstd = rstd;
        state.Logits = request.LogitsRows switch
        {
            LogitsRows.All => ComputeLogits(ctx, normed),
            LogitsRows.LastPerSequence => ComputeLogits(ctx, LastRows(arena, normed, batch)),
            _ => default,
        };
        ctx.Dump?.Record("", "logits", state.Logits);

        if (request.RunMtp)
        {
            if (Mtp.Length == 0) throw new InvalidInputException("This model has no MTP module (num_nextn_predict_layers = 0).");
            var previous = normed;
            for (int k = 0; k < Mtp.Length; k++)
            {
                Mtp[k].Forward(ctx, previous, tokens, layout.Batch, layout.SeqLen, state.Mtp[k]);
                previous = state.Mtp[k].H;
            }
        }
    }

    /// <summary>logits [rows, V] = head(z [rows, d]).</summary>
    public Tensor ComputeLogits(ForwardContext ctx, Tensor z)
    {
        var logits = ctx.Arena.AllocateUninitialized(new TensorShape(z.Rows, Config.VocabSize));
        Linear.Forward(ctx.Pool, z, Head, logits);
        return logits;
    }

    /// <summary>
    /// The backward pass of a training forward (SaveActivations, all logits, MTP run when <paramref name="dMtpLogits"/>
    /// is given): accumulates every parameter's gradient from ∂L/∂logits [N, V], ∂L/∂(MTP logits) per depth, and the
    /// balance loss's ∂L/∂s̄ per MoE layer (keyed by layer index; MTP layers after the main ones).
    /// <paramref name="layerDone"/>(l) is called once decoder layer l's backward is done: from then on the gradients of
    /// layers l.. and of the head, final norm and MTP modules are final (data parallelism starts summing them).
    /// </summary>
    public void Backward(ForwardContext ctx, ModelState state, Tensor dLogits, Tensor[] dMtpLogits, IReadOnlyDictionary<int, float[]>? balance = null,
        Action<int>? layerDone = null)
    {
        var batch = state.Batch;
        int n = batch.Rows, d = Config.HiddenSize;
        var dNormed = ctx.Arena.Allocate(new TensorShape(n, d));          // ∂L/∂(final-norm output)
        Tensor dNext = default;
        for (int k = dMtpLogits.Length - 1; k >= 0; k--)
        {
            var mtp = state.Mtp[k];
            var dPrev = ctx.Arena.AllocateUninitialized(new TensorShape(mtp.Batch.Rows, d));
            Mtp[k].Backward(ctx, mtp, dMtpLogits[k], dNext, dPrev, Balance(balance, Config.NumHiddenLayers + k));
            // Row (b, i) of module k came from row (b, i) of its input, which has one more row per sequence.
            int tOut = mtp.Batch.SeqLen, tPrev = tOut + 1;
            var target = k == 0 ? dNormed : ctx.Arena.Allocate(new TensorShape(batch.Batch * tPrev, d));
            for (int b = 0; b < batch.Batch; b++)
                for (int i = 0; i < tOut; i++)
                    VectorOps.Add(dPrev.Row(b * tOut + i), target.Row(b * tPrev + i));
            dNext = target;
        }
        Linear.BackwardInput(ctx.Pool, n, dLogits.Span, Config.VocabSize, Head, dNormed.Span, d, accumulate: true);
        Linear.BackwardWeight(ctx.Pool, n, dLogits.Span, Config.VocabSize, state.Normed.Span, d, Head);
        var dh = ctx.Arena.AllocateUninitialized(new TensorShape(n, d));
        FinalNorm.Backward(state.Hidden, state.NormRstd, dNormed, dh, accumulate: false);
        for (int l = Layers.Length - 1; l >= 0; l--)
        {
            Layers[l].Backward(ctx, state.Layers[l], dh, Balance(balance, l));
            layerDone?.Invoke(l);
        }
        AccumulateEmbeddingGrad(Embed, state.Tokens, dh);
    }

    private static ReadOnlySpan<float> Balance(IReadOnlyDictionary<int, float[]>? balance, int layer) =>
        balance is not null && balance.TryGetValue(layer, out var b) ? b : default;

    /// <summary>E[token_i] += dh_i, in row order.</summary>
    internal static void AccumulateEmbeddingGrad(Parameter embed, ReadOnlySpan<int> tokens, Tensor dh)
    {
        var grad = embed.Grad ?? throw new InvalidOperationException($"{embed.Name} has no gradient buffer.");
        int d = dh.Cols;
        for (int i = 0; i < tokens.Length; i++) VectorOps.Add(dh.Row(i), grad.AsSpan(tokens[i] * d, d));
    }

    private static Tensor Snapshot(TensorArena arena, Tensor h)
    {
        var copy = arena.AllocateUninitialized(h.Shape);
        h.CopyTo(copy);
        return copy;
    }

    /// <summary>[segments, cols]: the last row of each segment of <paramref name="batch"/>.</summary>
    internal static Tensor LastRows(TensorArena arena, Tensor x, RaggedBatch batch)
    {
        var segments = batch.Segments;
        var last = arena.AllocateUninitialized(new TensorShape(segments.Length, x.Cols));
        for (int s = 0; s < segments.Length; s++) x.Row(segments[s].RowStart + segments[s].Length - 1).CopyTo(last.Row(s));
        return last;
    }
}
