using System.Diagnostics;
using System.Text.Json;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;

namespace SeekSharp.Bench;

/// <summary>Seconds of one training step's parts.</summary>
internal readonly record struct StepTimes(double Forward, double Loss, double Backward, double Optimizer)
{
    public double Total => Forward + Loss + Backward + Optimizer;
}

/// <summary>One side's timed steps in one mode: tokens/s (mean over all steps, and the best step) and where the time went.</summary>
internal sealed record TrainFigures(int TokensPerStep, IReadOnlyList<StepTimes> Steps)
{
    public double Seconds => Steps.Sum(s => s.Total);
    public double TokensPerSecond => Steps.Count * TokensPerStep / Seconds;
    public double BestTokensPerSecond => TokensPerStep / Steps.Min(s => s.Total);
    public string Split => $"forward {Steps.Sum(s => s.Forward) / Seconds:P0}, loss {Steps.Sum(s => s.Loss) / Seconds:P0}, " +
                           $"backward {Steps.Sum(s => s.Backward) / Seconds:P0}, AdamW {Steps.Sum(s => s.Optimizer) / Seconds:P0}";
}

/// <summary>
/// The training row of the peer comparison: SeekSharp and (when it runs) PyTorch, with and without the MTP loss, from
/// alternating rounds of one run. Ratios above 1: SeekSharp is faster.
/// </summary>
internal sealed record TrainPeerResult(string Shape, TrainFigures SeekSharpMtp, TrainFigures SeekSharpNoMtp,
    TrainFigures? TorchMtp, TrainFigures? TorchNoMtp, string PeerSetup)
{
    public double? RatioMtp => TorchMtp is null ? null : SeekSharpMtp.TokensPerSecond / TorchMtp.TokensPerSecond;
    public double? RatioNoMtp => TorchNoMtp is null ? null : SeekSharpNoMtp.TokensPerSecond / TorchNoMtp.TokensPerSecond;
    /// <summary>How much longer a step takes with the MTP loss than without: 0.12 = 12% more time.</summary>
    public static double MtpAdds(TrainFigures mtp, TrainFigures noMtp) => noMtp.TokensPerSecond / mtp.TokensPerSecond - 1;
}

/// <summary>
/// Training throughput: fwd + bwd + AdamW tokens/s on random data for a config (random weights), with a split of
/// where the time goes; with <c>--peer torch</c>, against the same model in PyTorch (bench/peers) in alternating
/// rounds, and with <c>--check</c>, the proof that the two compute the same losses and gradients.
/// </summary>
internal static class TrainBench
{
    public static int Run(string[] args)
    {
        int threads = BenchArgs.GetInt(args, "--threads", 2);
        int batch = BenchArgs.GetInt(args, "--batch-size", 4), seq = BenchArgs.GetInt(args, "--seq-len", 256);
        int steps = BenchArgs.GetInt(args, "--steps", 5);
        var config = BenchArgs.Get(args, "--config") is { } path ? ModelConfig.Load(path) : Presets.Get(BenchArgs.Get(args, "--preset") ?? "train-36m");
        string? peer = BenchArgs.Get(args, "--peer");
        if (peer is not null and not "torch")
        {
            Console.Error.WriteLine($"unknown --peer {peer}; the one peer is torch");
            return 2;
        }
        if (BenchArgs.Has(args, "--check")) return Check(config, batch, seq, threads);
        if (peer is "torch")
        {
            var result = Measure(config, threads, batch, seq, BenchArgs.GetInt(args, "--steps", 2), BenchArgs.GetInt(args, "--rounds", 3), withPeer: true, Console.Error);
            Print(result, Console.Out);
            return 0;
        }

        bool mtp = !BenchArgs.Has(args, "--no-mtp");
        using var trainer = new SeekSharpSide(config, threads, batch, seq);
        trainer.Step(mtp);   // warm-up
        var figures = new TrainFigures(batch * seq, Enumerable.Range(0, steps).Select(_ => trainer.Step(mtp)).ToArray());
        Console.WriteLine($"{Shape(config, batch, seq, threads)}, MTP {(mtp ? "on" : "off")}");
        Console.WriteLine($"mean {figures.TokensPerSecond:F0} tokens/s, best {figures.BestTokensPerSecond:F0}; {figures.Split}");
        return 0;
    }

    private static string Shape(ModelConfig c, int batch, int seq, int threads) =>
        $"{c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NRoutedExperts} experts; batch {batch} × {seq}, threads {threads}";

    /// <summary>
    /// SeekSharp against PyTorch (when <paramref name="withPeer"/> and torch imports; else SeekSharp alone), the same
    /// weights and tokens on both sides: one warm-up step per side and mode, then <paramref name="rounds"/> rounds, each
    /// <paramref name="steps"/> steps per side with MTP and then without, the side that goes first alternating.
    /// Progress goes to <paramref name="log"/>.
    /// </summary>
    internal static TrainPeerResult Measure(ModelConfig config, int threads, int batch, int seq, int steps, int rounds, bool withPeer, TextWriter log)
    {
        if (config.MtpDepth == 0) throw new ArgumentException("The comparison runs with and without the MTP loss: the config needs num_nextn_predict_layers ≥ 1.");
        using var trainer = new SeekSharpSide(config, threads, batch, seq);
        string? missing = withPeer ? TorchPeer.Unavailable() : "not asked for";
        using var files = missing is null ? new PeerFiles(trainer) : null;
        using var torch = files is null ? null : TorchPeer.Start(files.ModelDir, files.TokensFile, batch, seq, threads);
        string setup = torch is null ? $"PyTorch: {missing}" : $"PyTorch {torch.Ready.GetProperty("torch").GetString()} ({TorchPeer.Python}), {torch.Setup}";
        log.WriteLine(setup);
        var sides = new Dictionary<(bool Torch, bool Mtp), List<StepTimes>>();
        foreach (bool mtp in new[] { true, false })
        {
            sides[(false, mtp)] = new();
            sides[(true, mtp)] = new();
            trainer.Step(mtp);             // warm-up
            torch?.Round(1, mtp);
        }
        for (int r = 0; r < rounds; r++)
            foreach (bool mtp in new[] { true, false })
                foreach (bool torchSide in r % 2 == 0 ? new[] { false, true } : new[] { true, false })
                {
                    if (torchSide && torch is null) continue;
                    var times = torchSide ? torch!.Round(steps, mtp) : Enumerable.Range(0, steps).Select(_ => trainer.Step(mtp)).ToArray();
                    sides[(torchSide, mtp)].AddRange(times);
                    log.WriteLine($"round {r + 1}/{rounds}, MTP {(mtp ? "on " : "off")}, {(torchSide ? "PyTorch  " : "SeekSharp")}: {string.Join(" ", times.Select(t => $"{t.Total:F2}"))} s");
                }
        TrainFigures? F(bool t, bool mtp) => sides[(t, mtp)].Count == 0 ? null : new TrainFigures(batch * seq, sides[(t, mtp)]);
        return new TrainPeerResult(Shape(config, batch, seq, threads), F(false, true)!, F(false, false)!, F(true, true), F(true, false), setup);
    }

    internal static void Print(TrainPeerResult r, TextWriter o)
    {
        o.WriteLine(r.Shape);
        o.WriteLine(r.PeerSetup);
        o.WriteLine("tokens/s: mean over the timed steps (best step)");
        o.WriteLine($"{"",-10} {"SeekSharp",16} {"PyTorch",16} {"SeekSharp/PyTorch",20}");
        static string Cell(TrainFigures? f) => f is null ? "-" : $"{f.TokensPerSecond:F0} ({f.BestTokensPerSecond:F0})";
        static string Ratio(TrainFigures s, TrainFigures? t) =>
            t is null ? "-" : $"{s.TokensPerSecond / t.TokensPerSecond:F2}× ({s.BestTokensPerSecond / t.BestTokensPerSecond:F2}×)";
        o.WriteLine($"{"MTP on",-10} {Cell(r.SeekSharpMtp),16} {Cell(r.TorchMtp),16} {Ratio(r.SeekSharpMtp, r.TorchMtp),20}");
        o.WriteLine($"{"MTP off",-10} {Cell(r.SeekSharpNoMtp),16} {Cell(r.TorchNoMtp),16} {Ratio(r.SeekSharpNoMtp, r.TorchNoMtp),20}");
        static string Adds(TrainFigures? mtp, TrainFigures? off) => mtp is null || off is null ? "-" :
            $"{TrainPeerResult.MtpAdds(mtp, off):P0} ({off.BestTokensPerSecond / mtp.BestTokensPerSecond - 1:P0})";
        o.WriteLine($"{"MTP adds",-10} {Adds(r.SeekSharpMtp, r.SeekSharpNoMtp),16} {Adds(r.TorchMtp, r.TorchNoMtp),16}");
        o.WriteLine($"SeekSharp, MTP on: {r.SeekSharpMtp.Split}");
        o.WriteLine($"SeekSharp, MTP off: {r.SeekSharpNoMtp.Split}");
        if (r.TorchMtp is not null) o.WriteLine($"PyTorch, MTP on: {r.TorchMtp.Split} (its loss is inside its forward)");
        if (r.TorchNoMtp is not null) o.WriteLine($"PyTorch, MTP off: {r.TorchNoMtp.Split} (its loss is inside its forward)");
    }

    /// <summary>
    /// The same model on both sides: SeekSharp's weights and tokens go to the PyTorch peer, and both compute the loss
    /// parts and the gradient norms without and with MTP, then take one AdamW step (with MTP) and compute the loss again.
    /// Exit code 1 when a loss differs by more than 1e-4 or a parameter's gradient norm by more than 1e-3 relative.
    /// </summary>
    private static int Check(ModelConfig config, int batch, int seq, int threads)
    {
        if (TorchPeer.Unavailable() is { } missing)
        {
            Console.Error.WriteLine($"PyTorch: {missing}");
            return 1;
        }
        using var trainer = new SeekSharpSide(config, threads, batch, seq);
        using var files = new PeerFiles(trainer);
        var (off, offNorms) = trainer.Gradients(mtp: false);
        var (on, onNorms) = trainer.Gradients(mtp: true);
        trainer.Optimizer.Step(trainer.Pool, SeekSharpSide.LearningRate);
        var after = trainer.LossOnly(mtp: true);

        using var torch = TorchPeer.Start(files.ModelDir, files.TokensFile, batch, seq, threads);
        var peer = torch.Command("check");
        Console.WriteLine($"{Shape(config, batch, seq, threads)}; PyTorch {torch.Ready.GetProperty("torch").GetString()}, same weights (seed 1) and tokens");
        Console.WriteLine($"{"",-22} {"SeekSharp",12} {"PyTorch",12} {"difference",11}");
        double worst = 0;
        void Row(string name, double ours, JsonElement theirs, string key)
        {
            double t = theirs.GetProperty(key).GetDouble(), diff = Math.Abs(ours - t);
            worst = Math.Max(worst, diff);
            Console.WriteLine($"{name,-22} {ours,12:F7} {t,12:F7} {diff,11:0.0e+0}");
        }
        foreach (var (label, loss, norms, json) in new[] { ("MTP off", off, offNorms, peer.GetProperty("mtp_off")), ("MTP on", on, onNorms, peer.GetProperty("mtp_on")) })
        {
            Row($"{label}: main", loss.Main, json, "main");
            if (label == "MTP on") Row($"{label}: MTP", loss.Mtp, json, "mtp");
            Row($"{label}: balance", loss.Balance, json, "balance");
            Row($"{label}: total", loss.Total, json, "total");
            Row($"{label}: grad norm", Math.Sqrt(norms.Values.Sum(v => v * v)), json, "grad_norm");
        }
        var after1 = peer.GetProperty("after_step");
        Row("after 1 AdamW: main", after.Main, after1, "main");
        Row("after 1 AdamW: MTP", after.Mtp, after1, "mtp");
        Row("after 1 AdamW: total", after.Total, after1, "total");

        // Every parameter's gradient norm with MTP on (the largest relative difference, over tensors with a gradient).
        var theirs = peer.GetProperty("mtp_on").GetProperty("grad_norms");
        double worstRel = 0;
        string worstName = "";
        int compared = 0;
        foreach (var (name, ours) in onNorms)
        {
            double t = theirs.GetProperty(name).GetDouble();
            if (Math.Max(ours, t) < 1e-12) continue;
            compared++;
            double rel = Math.Abs(ours - t) / Math.Max(ours, t);
            if (rel > worstRel) (worstRel, worstName) = (rel, name);
        }
        Console.WriteLine($"per-parameter gradient norms (MTP on), {compared} tensors: largest relative difference {worstRel:0.0e+0} ({worstName})");
        bool ok = worst <= 1e-4 && worstRel <= 1e-3;
        Console.WriteLine(ok ? "same model: every loss within 1e-4, every gradient norm within 1e-3 relative" : "DIFFERENT: a loss or a gradient norm is outside the tolerance");
        return ok ? 0 : 1;
    }

    /// <summary>SeekSharp's side: a model with random weights (seed 1), random tokens (seed 3), AdamW at lr 1e-4.</summary>
    private sealed class SeekSharpSide : IDisposable
    {
        public const double LearningRate = 1e-4;
        private readonly ForwardContext _ctx;
        private readonly ModelState _state;
        private readonly BatchLayout _layout;

        public DeepSeekModel Model { get; }
        public WorkerPool Pool { get; }
        public Optimizer Optimizer { get; }
        public int[] Tokens { get; }

        public SeekSharpSide(ModelConfig config, int threads, int batch, int seq)
        {
            Model = DeepSeekModel.Create(config);
            ModelInitializer.Initialize(Model, 1);
            foreach (var p in Model.Parameters) p.EnsureGrad();
            Pool = new WorkerPool(threads);
            _ctx = new ForwardContext(Pool) { SaveActivations = true };
            _state = Model.CreateState();
            Optimizer = new Optimizer(Model, new OptimizerOptions());
            var rng = new Random(3);
            Tokens = Enumerable.Range(0, batch * seq).Select(_ => rng.Next(config.VocabSize)).ToArray();
            _layout = new BatchLayout(batch, seq);
        }

        private static LossWeights Weights(bool mtp) => new() { MtpLambda = mtp ? 0.3 : 0 };

        /// <summary>One training step: forward, loss, backward, AdamW.</summary>
        public StepTimes Step(bool mtp)
        {
            var sw = Stopwatch.StartNew();
            _ctx.Arena.Reset();
            foreach (var p in Optimizer.Parameters) Array.Clear(p.Grad!);
            Model.Forward(_ctx, Tokens, _layout, _state, new ForwardRequest { RunMtp = mtp });
            double t1 = sw.Elapsed.TotalSeconds;
            var (_, grads) = TrainingLoss.Compute(_ctx, Model, _state, Weights(mtp));
            double t2 = sw.Elapsed.TotalSeconds;
            Model.Backward(_ctx, _state, grads.DLogits, grads.DMtpLogits, grads.Balance);
            double t3 = sw.Elapsed.TotalSeconds;
            Optimizer.Step(Pool, LearningRate);
            double t4 = sw.Elapsed.TotalSeconds;
            return new StepTimes(t1, t2 - t1, t3 - t2, t4 - t3);
        }

        /// <summary>The loss parts and every trainable parameter's gradient norm, without an update.</summary>
        public (LossResult Loss, Dictionary<string, double> Norms) Gradients(bool mtp)
        {
            _ctx.Arena.Reset();
            foreach (var p in Model.Parameters) if (p.Grad is not null) Array.Clear(p.Grad);
            Model.Forward(_ctx, Tokens, _layout, _state, new ForwardRequest { RunMtp = mtp });
            var (loss, grads) = TrainingLoss.Compute(_ctx, Model, _state, Weights(mtp));
            Model.Backward(_ctx, _state, grads.DLogits, grads.DMtpLogits, grads.Balance);
            var norms = new Dictionary<string, double>();
            foreach (var p in Optimizer.Parameters)
            {
                double s = 0;
                foreach (var g in p.Grad!) s += (double)g * g;
                norms[p.Name] = Math.Sqrt(s);
            }
            return (loss, norms);
        }

        public LossResult LossOnly(bool mtp)
        {
            _ctx.Arena.Reset();
            Model.Forward(_ctx, Tokens, _layout, _state, new ForwardRequest { RunMtp = mtp });
            return TrainingLoss.Compute(_ctx, Model, _state, Weights(mtp), computeGradients: false).Loss;
        }

        public void Dispose() => Pool.Dispose();
    }

    /// <summary>The trainer's weights (safetensors, F32) and tokens (int32) in a temporary folder, deleted on dispose.</summary>
    private sealed class PeerFiles : IDisposable
    {
        public string ModelDir { get; }
        public string TokensFile { get; }

        public PeerFiles(SeekSharpSide trainer)
        {
            ModelDir = Directory.CreateTempSubdirectory("seeksharp-train-peer-").FullName;
            ModelSaver.Save(trainer.Model, ModelDir);
            TokensFile = Path.Combine(ModelDir, "tokens.i32");
            File.WriteAllBytes(TokensFile, System.Runtime.InteropServices.MemoryMarshal.AsBytes(trainer.Tokens.AsSpan()).ToArray());
        }

        public void Dispose()
        {
            try { Directory.Delete(ModelDir, recursive: true); }
            catch (IOException) { }
        }
    }
}
