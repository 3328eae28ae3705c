using System.Diagnostics;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training.Data;

namespace SeekSharp.Training;

/// <summary>
/// One optimiser step at a time: batch → forward (activations kept) → loss → backward → clip + AdamW → expert-bias
/// update. Every reduction runs in a fixed order, so the same seed and thread count give bitwise the same run.
/// </summary>
public sealed class Trainer
{
    private readonly List<int> _batchTokens = new();
    private readonly List<byte> _batchMask = new();
    private readonly ForwardContext _ctx;
    private readonly ForwardContext _evalCtx;   // the same pool and arena, no activations kept
    private readonly ModelState _state;
    private DataCursor _cursor;
    private readonly Stopwatch _clock = new();
    private double _elapsedBefore;

    public DeepSeekModel Model { get; }
    public TokenDataset Data { get; }
    public TrainingOptions Options { get; }
    public Optimizer Optimizer { get; }
    public WorkerPool Pool { get; }
    /// <summary>Steps completed.</summary>
    public long Step { get; private set; }
    public long TokensSeen { get; private set; }
    /// <summary>Steps skipped for a NaN or infinite loss or gradient (<see cref="NonFinitePolicy.Skip"/>), over the whole run.</summary>
    public int SkippedSteps { get; private set; }
    /// <summary>
    /// What the schedule's learning rate is multiplied by: halved by every skipped step, for the rest of the run (a
    /// step that overflowed once is likely to again at the same rate). 1 when nothing was skipped.
    /// </summary>
    public double LearningRateScale => Math.Pow(0.5, SkippedSteps);
    /// <summary>Seconds spent in training steps, over the whole run (resumed runs included).</summary>
    public double ElapsedSeconds => _elapsedBefore;
    /// <summary>
    /// Model FLOPs per trained token of one step (forward + backward = 3 × forward, <see cref="CostModel"/>): the MTP
    /// modules when the step runs them, and attention over the full T × T square, which is what the naive attention
    /// computes (the causal mask zeroes the upper half afterwards) in the forward and the backward.
    /// </summary>
    public double FlopsPerToken { get; }
    /// <summary>The utilisation figure of <see cref="StepMetrics.Mfu"/>; without one, MFU is reported as 0.</summary>
    public MfuMeter? Utilisation { get; set; }
    /// <summary>The data-parallel group this trainer is one rank of, or null for a single process.</summary>
    public DataParallel? Parallel { get; }

    public Trainer(DeepSeekModel model, TokenDataset data, TrainingOptions options, WorkerPool pool, DataParallel? parallel = null)
    {
        options.Validate();
        data.CheckFits(options.BatchSize, options.SeqLen);
        parallel?.CheckBatch(options.BatchSize);
        Parallel = parallel;
        Model = model;
        Data = data;
        Options = options;
        Pool = pool;
        foreach (var p in model.Parameters)
        {
            if (p.Data is null) p.ConvertTo(SeekSharp.Tensors.Weights.WeightFormat.F32);
            p.EnsureGrad();
        }
        // Expert parallel: this rank drops the experts other ranks own, and the optimiser keeps no moments for them and
        // runs unclipped; ExpertParallel.Step clips by the norm over every rank's experts.
        var ep = parallel?.Experts;
        ep?.Attach(model);
        Optimizer = new Optimizer(model, ep is null ? options.Optimizer : options.Optimizer with { GradClip = 0 }, parallel?.OptimizerShard,
            ep is null ? null : ep.Holds);
        parallel?.Attach(model, Optimizer);
        _ctx = new ForwardContext(pool) { SaveActivations = true };
        _evalCtx = _ctx.WithSaveActivations(false);
        _state = model.CreateState();
        _cursor = DataCursor.Start(options.Seed);
        var flops = CostModel.For(model.Config, options.SeqLen, AttentionSpan.Full).Training;
        FlopsPerToken = RunMtp ? flops.Total : flops.Main.Total;
    }

    private bool RunMtp => Options.Loss.MtpLambda > 0 && Model.Mtp.Length > 0;

    /// <summary>
    /// Takes one optimiser step and returns what happened. With <see cref="Parallel"/>, every rank reads the same global
    /// batch and trains on its share of the sequences; gradients, expert loads and the loss are summed over the ranks.
    /// </summary>
    public StepMetrics TrainStep()
    {
        _clock.Restart();
        _ctx.Arena.Reset();
        var global = Data.NextBatch(ref _cursor, Options.BatchSize, Options.SeqLen, _batchTokens, _batchMask);
        foreach (var p in Optimizer.Parameters) if (p.Grad is { } g) Array.Clear(g);   // none: an expert owned elsewhere
        ReadOnlySpan<int> tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_batchTokens);     // [B·T]
        ReadOnlySpan<byte> mask = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_batchMask);        // [B·T] or empty
        var layout = global;
        TrainingLoss.Normalizer? normalizer = null;
        if (Parallel is { } dp)
        {
            normalizer = TrainingLoss.NormalizerOf(Model, Options.Loss, mask, global.Batch, global.SeqLen);
            var (first, count) = dp.Share(global.Batch);
            layout = global with { Batch = count };
            tokens = tokens.Slice(first * global.SeqLen, layout.Rows);
            if (!mask.IsEmpty) mask = mask.Slice(first * global.SeqLen, layout.Rows);
        }
        Model.Forward(_ctx, tokens, layout, _state, new ForwardRequest { RunMtp = RunMtp });
        var (loss, grads) = TrainingLoss.Compute(_ctx, Model, _state, Options.Loss, targetMask: mask, normalizer: normalizer);
        if (Parallel is not null) loss = Parallel.AllReduceLoss(loss, normalizer!.MainTargets);
        double lr = Options.Schedule.At(Step) * LearningRateScale;
        if (!double.IsFinite(loss.Total))
            return NonFinite(global.Rows, loss, lr, $"the loss is {loss.Total} (main {loss.Main}, MTP {loss.Mtp}, balance {loss.Balance})");
        Parallel?.BeginBackward();
        Model.Backward(_ctx, _state, grads.DLogits, grads.DMtpLogits, grads.Balance, Parallel is { Overlaps: true } dpo ? dpo.LayerBackwardDone : null);
        var balance = ExpertBiasBalancer.Measure(Model, _state, RunMtp);
        if (Parallel is not null)
        {
            if (Parallel.Experts is { } ep) ep.ReduceGradients(Parallel);
            else Parallel.ReduceGradients();
            balance = Parallel.AllReduceLoads(balance);
        }
        double norm;
        try   // each throws before changing anything when the norm is not finite
        {
            norm = Parallel?.Experts is { } experts ? experts.Step(Optimizer, Pool, lr, Options.Optimizer.GradClip)
                : Parallel is { } replicas ? replicas.Step(Pool, lr) : Optimizer.Step(Pool, lr);
        }
        catch (TrainingDivergedException)
        {
            var (name, value) = FirstNonFiniteGradient();
            return NonFinite(global.Rows, loss, lr, $"the gradient norm is {Optimizer.GradientNorm()} (the first non-finite gradient: {value} in {name})");
        }
        ExpertBiasBalancer.Update(Model, balance, Options.BiasUpdateSpeed);
        var m = CountStep(global.Rows, loss, lr, norm);
        return m with
        {
            Mfu = Utilisation?.Observe(m.TokensPerSecond * FlopsPerToken / (Parallel?.Ranks ?? 1)) ?? 0,   // per rank's peak
            MoeLayers = balance.Select(b => b.Layer).ToArray(),
            MaxVio = balance.Select(b => b.MaxVio).ToArray(),
            ExpertLoad = balance.Select(b => { double sum = b.Loads.Sum(); return b.Loads.Select(l => sum == 0 ? 0 : l / sum).ToArray(); }).ToArray(),
        };
    }

    // Counts a finished (or skipped) step of `rows` tokens and gives its metrics line.
    private StepMetrics CountStep(int rows, LossResult loss, double lr, double norm)
    {
        Step++;
        TokensSeen += rows;
        double seconds = _clock.Elapsed.TotalSeconds;
        _elapsedBefore += seconds;
        return new StepMetrics
        {
            Step = Step,
            Tokens = TokensSeen,
            Loss = loss.Total,
            LossMain = loss.Main,
            LossMtp = loss.Mtp,
            LossBalance = loss.Balance,
            LearningRate = lr,
            GradNorm = norm,
            TokensPerSecond = rows / seconds,
            ElapsedSeconds = _elapsedBefore,
        };
    }

    // A step whose loss or gradients are NaN or infinite, before any weight, moment or expert bias changed. Stop: a
    // TrainingDivergedException naming the step and what was not finite. Skip: the batch is passed over, the step counts,
    // and the learning rate is halved from the next step on; past MaxSkippedSteps skips the run stops as with Stop.
    private StepMetrics NonFinite(int rows, LossResult loss, double lr, string what)
    {
        long step = Step + 1;
        if (Options.OnNonFinite == NonFinitePolicy.Stop)
            throw new TrainingDivergedException($"Step {step}: {what}; stopped (--on-nonfinite stop). Lower --lr, or check the data.");
        if (SkippedSteps >= Options.MaxSkippedSteps)
            throw new TrainingDivergedException($"Step {step}: {what}; stopped, {SkippedSteps} steps were skipped already (--max-skipped-steps {Options.MaxSkippedSteps}).");
        SkippedSteps++;
        return CountStep(rows, loss, lr, double.NaN) with
        {
            Skipped = $"{what}; the learning rate is now × {LearningRateScale:G3} ({SkippedSteps} of at most {Options.MaxSkippedSteps} skips)",
        };
    }

    private (string Name, float Value) FirstNonFiniteGradient()
    {
        foreach (var p in Optimizer.Parameters)
            foreach (var g in p.Grad.AsSpan())
                if (!float.IsFinite(g)) return (p.Name, g);
        return ("no single element (their squares overflowed the sum)", float.NaN);
    }

    /// <summary>
    /// With expert parallelism, brings every expert's weights, and with <paramref name="optimizerState"/> its moments,
    /// from its owner to rank 0 (a collective: all ranks call it), so that rank 0 can evaluate and save the whole model;
    /// <see cref="ReleaseExperts"/> drops them again. Otherwise nothing to do.
    /// </summary>
    public void GatherExperts(bool optimizerState) => Parallel?.Experts?.GatherWholeModel(Optimizer, optimizerState);

    /// <summary>Drops what <see cref="GatherExperts"/> brought to rank 0.</summary>
    public void ReleaseExperts() => Parallel?.Experts?.ReleaseGathered();

    /// <summary>Mean losses over the fixed validation batches (no gradients); null when the split is empty.</summary>
    public LossResult? Evaluate()
    {
        double total = 0, main = 0, mtp = 0, bal = 0;
        int batches = 0;
        foreach (var (layout, tokens, mask) in Data.ValidationBatches(Options.BatchSize, Options.SeqLen, Options.EvalBatches))
        {
            _evalCtx.Arena.Reset();
            Model.Forward(_evalCtx, tokens, layout, _state, new ForwardRequest { RunMtp = RunMtp });
            var (loss, _) = TrainingLoss.Compute(_evalCtx, Model, _state, Options.Loss, computeGradients: false, targetMask: mask);
            total += loss.Total; main += loss.Main; mtp += loss.Mtp; bal += loss.Balance;
            batches++;
        }
        if (batches == 0) return null;
        return new LossResult { Total = total / batches, Main = main / batches, Mtp = mtp / batches, Balance = bal / batches };
    }

    // ------------------------------------------------------------------ state

    private const string Magic = "SeekSharp training state";
    private const int Version = 2;   // 2 added the skipped-step count; version 1 (none skipped) still reads

    /// <summary>Step, tokens, skipped steps, data cursor and optimiser moments: with the weights, everything a resumed run needs.</summary>
    public void SaveState(Stream stream)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write(Step);
        w.Write(TokensSeen);
        w.Write(_elapsedBefore);
        w.Write(SkippedSteps);
        _cursor.Write(w);
        Optimizer.Save(w);
    }

    public void LoadState(Stream stream, string source)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            if (r.ReadString() != Magic) throw new CheckpointException($"{source} is not a SeekSharp training state.");
            int version = r.ReadInt32();
            if (version is < 1 or > Version) throw new CheckpointException($"{source} is a version {version} training state; this SeekSharp reads versions 1 to {Version}.");
            Step = r.ReadInt64();
            TokensSeen = r.ReadInt64();
            _elapsedBefore = r.ReadDouble();
            SkippedSteps = version >= 2 ? r.ReadInt32() : 0;
            if (SkippedSteps < 0) throw new CheckpointException($"{source} records {SkippedSteps} skipped steps.");
            _cursor = DataCursor.Read(r);
            Optimizer.Load(r);
        }
        catch (EndOfStreamException e)
        {
            throw new CheckpointException($"{source} is truncated.", e);
        }
    }
}
