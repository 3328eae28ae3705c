using System.CommandLine;
using SeekSharp.Distributed;
using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tokenization;
using SeekSharp.Training;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp train</c>: trains from scratch (--config / --preset) or from a checkpoint (--init-from), or continues a run (--resume).</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var config = new Option<string?>("--config") { Description = "Train a new model with this config.json." };
        var preset = new Option<string?>("--preset") { Description = $"Train a new model with a named config ({string.Join(", ", Presets.Names)})." };
        var initFrom = new Option<string?>("--init-from") { Description = "Start from the weights of a model (fine-tuning). " + CliCommon.ModelFolderHelp };
        var data = new Option<string?>("--data") { Description = "Text file, folder of text files, .bin of token ids, or JSON array of token rows." };
        var chat = new Option<string?>("--chat") { Description = "Chat fine-tuning data: JSONL of {\"messages\": [...]} rows, rendered with the chat template; loss on assistant tokens only." };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer for text data (default: the one in --init-from; else UTF-8 bytes)." };
        var output = new Option<string>("--out") { Description = "Run folder: run.json, metrics.jsonl, checkpoints/.", Required = true };
        var steps = new Option<int?>("--steps") { Description = "Optimiser steps (default 1000)." };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per step.", DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence (text and .bin data).", DefaultValueFactory = _ => 256 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => 6e-4 };
        var minLr = new Option<double?>("--min-lr") { Description = "Final learning rate (default lr/10)." };
        var warmup = new Option<int?>("--warmup") { Description = "Warm-up steps (default steps/20)." };
        var schedule = new Option<string>("--schedule") { Description = "cosine, constant-cosine (the report's shape) or constant.", DefaultValueFactory = _ => "cosine" };
        schedule.AcceptOnlyFromAmong("cosine", "constant-cosine", "constant");
        var optimizer = new Option<string>("--optimizer") { Description = "adamw or sgd.", DefaultValueFactory = _ => "adamw" };
        optimizer.AcceptOnlyFromAmong("adamw", "sgd");
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay on matrices.", DefaultValueFactory = _ => 0.1 };
        var gradClip = new Option<double>("--grad-clip") { Description = "Global gradient-norm clip; 0 = off.", DefaultValueFactory = _ => 1.0 };
        var mtpLambda = new Option<double>("--mtp-lambda") { Description = "Weight λ of the MTP loss.", DefaultValueFactory = _ => 0.3 };
        var balanceAlpha = new Option<double?>("--balance-alpha") { Description = "Weight α of the balance loss (default 1e-4; 0.01 with --balance aux-loss)." };
        var balanceMode = new Option<string>("--balance") { Description = "aux-free: bias updates + tiny sequence-wise loss (DeepSeek-V3); aux-loss: a classic batch-wise auxiliary loss only.", DefaultValueFactory = _ => "aux-free" };
        balanceMode.AcceptOnlyFromAmong("aux-free", "aux-loss");
        var biasSpeed = new Option<double>("--bias-update-speed") { Description = "γ of the expert-bias update.", DefaultValueFactory = _ => 0.001 };
        var seed = new Option<ulong>("--seed") { Description = "Random seed (initialisation and data order).", DefaultValueFactory = _ => 0UL };
        var threads = CliCommon.ThreadsOption();
        var evalEvery = new Option<int>("--eval-every") { Description = "Validation loss every N steps; 0 = off.", DefaultValueFactory = _ => 100 };
        var evalBatches = new Option<int>("--eval-batches") { Description = "Validation batches per evaluation.", DefaultValueFactory = _ => 8 };
        var saveEvery = new Option<int>("--save-every") { Description = "Checkpoint every N steps (and at the end).", DefaultValueFactory = _ => 100 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep.", DefaultValueFactory = _ => 3 };
        var valFraction = new Option<double>("--val-fraction") { Description = "Share of the data held out for validation.", DefaultValueFactory = _ => 0.05 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its newest checkpoint." };
        var peakGflops = new Option<double?>("--peak-gflops") { Description = "Float32 GFLOP/s to report MFU against (default: measured with GEMMs at start); a faster step raises it." };
        var parallel = new Option<string>("--parallel") { Description = "none; dp: data parallel over the processes of an mpirun job; ep: the routed experts split over them; dp,ep: groups of --ep ranks split the experts, the groups are data-parallel replicas (docs/distributed.md).", DefaultValueFactory = _ => "none" };
        parallel.AcceptOnlyFromAmong("none", "dp", "ep", "dp,ep");
        var ep = new Option<int?>("--ep") { Description = "Ranks per expert-parallel group with --parallel dp,ep (with ep: all ranks, the default)." };
        var onNonFinite = new Option<string>("--on-nonfinite") { Description = "A NaN or infinite loss or gradient: stop (naming the step; the newest checkpoint is kept), or skip the step and halve the learning rate.", DefaultValueFactory = _ => "stop" };
        onNonFinite.AcceptOnlyFromAmong("stop", "skip");
        var maxSkipped = new Option<int>("--max-skipped-steps") { Description = "With --on-nonfinite skip: the most steps skipped before the run stops.", DefaultValueFactory = _ => 5 };
        var zero = new Option<int>("--zero") { Description = "With --parallel dp: 1 shards the AdamW state over the ranks (ZeRO-1: gradients reduce-scattered, weights all-gathered); 0 keeps it whole on every rank.", DefaultValueFactory = _ => 0 };
        zero.AcceptOnlyFromAmong("0", "1");
        var bucketMib = new Option<double>("--bucket-mib") { Description = "With --parallel dp: MiB of gradients per all-reduce bucket.", DefaultValueFactory = _ => DataParallel.BucketFloats * 4.0 / (1 << 20) };
        var overlap = new Option<bool>("--overlap") { Description = "With --parallel dp: all-reduce gradient buckets during the backward pass (false: after it).", DefaultValueFactory = _ => true };
        var command = new Command("train", "Train a DeepSeek-V3-architecture model (MLA, MoE with bias balancing, MTP).")
        {
            config, preset, initFrom, data, chat, tokenizer, output, steps, batch, seqLen, lr, minLr, warmup, schedule, optimizer, weightDecay, gradClip,
            mtpLambda, balanceAlpha, balanceMode, biasSpeed, seed, threads, evalEvery, evalBatches, saveEvery, keep, valFraction, resume,
            peakGflops, parallel, ep, onNonFinite, maxSkipped, zero, overlap, bucketMib,
        };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            string mode = r.GetValue(parallel)!;
            if (mode != "dp" && r.GetValue(zero) != 0)
                throw new UsageException("--zero 1 shards the optimiser over data-parallel ranks: use --parallel dp (under mpirun); expert parallelism does not shard it.");
            if (mode == "none")
            {
                if (r.GetValue(ep) is not null) throw new UsageException("--ep needs --parallel ep or dp,ep.");
                return Train(r, stdout, stderr, null);
            }
            if (mode == "dp" && r.GetValue(ep) is not null) throw new UsageException("--ep needs --parallel ep or dp,ep.");
            if (mode == "dp,ep" && r.GetValue(ep) is null) throw new UsageException("--parallel dp,ep needs --ep E, the ranks per expert-parallel group.");
            // Data parallel: every rank trains, rank 0 alone prints and writes. A rank that fails ends the whole job
            // (MPI_Abort) after saying why, rather than leaving the others waiting in a collective.
            double mib = r.GetValue(bucketMib);
            if (!(mib > 0 && mib <= 1024)) throw new UsageException($"--bucket-mib must be in (0, 1024], not {mib}.");
            var comm = Communicator.Open();
            DataParallel dp;
            try
            {
                if (mode == "ep" && r.GetValue(ep) is { } e && e != comm.Size)
                    throw new UsageException($"--parallel ep splits the experts over all {comm.Size} ranks; for groups of {e}, use --parallel dp,ep --ep {e}.");
                // Expert parallelism calls all-to-alls inside the backward pass, so gradients are not all-reduced beside it.
                dp = new DataParallel(comm, shardOptimizer: r.GetValue(zero) == 1, overlap: mode == "dp" && r.GetValue(overlap), bucketFloats: (int)Math.Max(1, mib * (1 << 20) / 4))
                {
                    Experts = mode == "dp" ? null : new ExpertParallel(comm, r.GetValue(ep) ?? comm.Size),
                };
            }
            catch (Exception e) when (comm.Size > 1)
            {
                stderr.WriteLine($"error on rank {comm.Rank} of {comm.Size}: {e.Message}");
                stderr.Flush();
                comm.Abort(e is UsageException ? CliRunner.Usage : CliRunner.Failed);
                throw;
            }
            var rankErr = comm.IsRoot ? stderr : TextWriter.Null;
            // When another rank dies, mpirun ends this one with SIGTERM: say so, on every rank, with the resume point.
            using var notice = comm.Size > 1 ? new RankStopNotice(comm.Rank, comm.Size, r.GetValue(output)!, stderr) : null;
            int code;
            try { code = Train(r, comm.IsRoot ? stdout : TextWriter.Null, rankErr, dp); }
            catch (Exception e) when (comm.Size > 1 && e is not OperationCanceledException)
            {
                stderr.WriteLine($"error on rank {comm.Rank} of {comm.Size}: {e.Message}");
                stderr.Flush();
                comm.Abort(e is UsageException ? CliRunner.Usage : CliRunner.Failed);
                throw;
            }
            dp.Experts?.Dispose();
            comm.Dispose();
            return code;
        }));
        return command;

        int Train(ParseResult r, TextWriter stdout, TextWriter stderr, DataParallel? dp)
        {
            using var ctrlC = CliCommon.CtrlC();
            var ct = ctrlC.Token;
            using var pool = CliCommon.Pool(r.GetValue(threads));
            string dir = r.GetValue(output)!;
            TrainingRun run;
            if (r.GetValue(resume))
            {
                run = TrainingRun.Resume(dir, pool, r.GetValue(steps), dp);
                foreach (var skippedCheckpoint in run.SkippedCheckpoints) stderr.WriteLine($"warning: {skippedCheckpoint}; resuming from an earlier one");
                stderr.WriteLine($"resuming {dir} at step {run.Trainer.Step} of {run.Trainer.Options.Steps}");
            }
            else
            {
                int sources = new[] { r.GetValue(config), r.GetValue(preset), r.GetValue(initFrom) }.Count(s => s is not null);
                if (sources != 1) throw new UsageException("give exactly one of --config, --preset or --init-from (or --resume).");
                if ((r.GetValue(data) is null) == (r.GetValue(chat) is null)) throw new UsageException("give exactly one of --data or --chat for a new run.");
                DeepSeekModel model;
                Tokenizer? tok = r.GetValue(tokenizer) is { } tp ? Tokenizer.Load(tp) : null;
                if (r.GetValue(initFrom) is { } given)
                {
                    string from = ModelPath.Resolve(given);
                    CheckpointManifest.Verify(from, checksums: true);   // every byte is read to train anyway
                    model = CliCommon.LoadModel(from, stderr, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
                    if (tok is null && File.Exists(Path.Combine(from, "tokenizer.json"))) tok = Tokenizer.Load(from);
                }
                else
                {
                    var (cfg, _) = InfoCommand.ConfigFrom(r.GetValue(config), r.GetValue(preset));
                    model = DeepSeekModel.Create(cfg);
                    ModelInitializer.Initialize(model, r.GetValue(seed));
                }
                int totalSteps = r.GetValue(steps) ?? 1000;
                bool auxLoss = r.GetValue(balanceMode) == "aux-loss";
                var options = new TrainingOptions
                {
                    Steps = totalSteps,
                    BatchSize = r.GetValue(batch),
                    SeqLen = r.GetValue(seqLen),
                    Schedule = new LearningRateSchedule
                    {
                        Peak = r.GetValue(lr),
                        Minimum = r.GetValue(minLr) ?? r.GetValue(lr) / 10,
                        Warmup = r.GetValue(warmup) ?? totalSteps / 20,
                        TotalSteps = totalSteps,
                        Shape = r.GetValue(schedule) switch { "constant-cosine" => ScheduleShape.ConstantThenCosine, "constant" => ScheduleShape.Constant, _ => ScheduleShape.Cosine },
                    },
                    Optimizer = new OptimizerOptions
                    {
                        Kind = r.GetValue(optimizer) == "sgd" ? OptimizerKind.Sgd : OptimizerKind.AdamW,
                        WeightDecay = r.GetValue(weightDecay),
                        GradClip = r.GetValue(gradClip),
                    },
                    Loss = new LossWeights
                    {
                        MtpLambda = r.GetValue(mtpLambda),
                        BalanceAlpha = r.GetValue(balanceAlpha) ?? (auxLoss ? 0.01 : 1e-4),
                        BalanceScope = auxLoss ? BalanceLossScope.Batch : BalanceLossScope.Sequence,
                    },
                    BiasUpdateSpeed = auxLoss ? 0 : r.GetValue(biasSpeed),
                    Seed = r.GetValue(seed),
                    EvalEvery = r.GetValue(evalEvery),
                    EvalBatches = r.GetValue(evalBatches),
                    SaveEvery = r.GetValue(saveEvery),
                    KeepCheckpoints = r.GetValue(keep),
                    ValidationFraction = r.GetValue(valFraction),
                    DataPath = Path.GetFullPath((r.GetValue(data) ?? r.GetValue(chat))!),
                    ChatData = r.GetValue(chat) is not null,
                    PeakGflops = r.GetValue(peakGflops) ?? 0,
                    OnNonFinite = r.GetValue(onNonFinite) == "skip" ? NonFinitePolicy.Skip : NonFinitePolicy.Stop,
                    MaxSkippedSteps = r.GetValue(maxSkipped),
                };
                run = TrainingRun.Start(dir, model, tok, options, pool, dp);
                stderr.WriteLine($"training {dir}: {run.Trainer.Data.TrainTokens:N0} training tokens, {run.Trainer.Data.ValidationTokens:N0} held out");
                if (run.Trainer.Data is SeekSharp.Training.Data.ChatDataset cd)
                    stderr.WriteLine($"chat data: {cd.TrainConversations:N0} conversations ({cd.TrainTargetTokens:N0} assistant tokens scored), {cd.ValidationConversations:N0} held out, {cd.Truncated(options.SeqLen):N0} cut to --seq-len {options.SeqLen}");
            }
            if (dp is not null)
                stderr.WriteLine($"data parallel over {dp.Ranks} ranks: {run.Trainer.Options.BatchSize / dp.Ranks} of {run.Trainer.Options.BatchSize} sequences per rank per step; "
                    + $"{dp.Buckets} gradient bucket(s), all-reduced {(dp.ShardsOptimizer ? "as one reduce-scatter after the backward pass (ZeRO-1)" : dp.Overlaps ? "during the backward pass" : "after the backward pass")}");
            if (dp?.Experts is { Dispatch: { } dispatch } experts)
                stderr.WriteLine($"expert parallel: {experts.World.Size / experts.Group.Size} group(s) of {experts.Group.Size} ranks, {dispatch.ExpertsPerRank} of {dispatch.Experts} routed experts per rank");
            TrainingProgress.Attach(run.Trainer, pool, stderr, r.GetValue(peakGflops));
            double startedAt = run.Trainer.ElapsedSeconds;
            long startStep = run.Trainer.Step;
            try
            {
                TrainingProgress.Run(run, stderr, ct);
            }
            catch (OperationCanceledException)
            {
                run.Trainer.GatherExperts(optimizerState: true);   // expert parallel: rank 0 writes every rank's experts
                dp?.GatherOptimizerState();   // ZeRO-1: rank 0 writes every rank's moments
                var saved = run.SaveCheckpoint();
                stderr.WriteLine($"stopped at step {run.Trainer.Step}; saved {saved}; continue with --resume");
                return CliRunner.Cancelled;
            }
            double trained = run.Trainer.ElapsedSeconds - startedAt;
            if (dp is not null && trained > 0)
            {
                double exchange = dp.Experts?.ExchangeTime.TotalSeconds ?? 0;
                double communication = dp.CommunicationTime.TotalSeconds + exchange + (dp.Experts?.CommunicationTime.TotalSeconds ?? 0);
                stderr.WriteLine($"communication: {communication:F1} s of {trained:F1} s of training steps on rank 0 ({communication / trained:P1}, waiting for the slowest rank included)"
                    + (dp.Experts is null ? "" : $"; token all-to-alls {exchange:F1} s ({exchange / trained:P1})")
                    + (dp.Overlaps ? $"; the gradient all-reduce itself took {dp.BackgroundCommunicationTime.TotalSeconds:F1} s on the communication thread, the rest of it hidden behind the backward pass" : ""));
                if (dp.Experts?.Dispatch is { } d)
                {
                    long steps = run.Trainer.Step - startStep;
                    stderr.WriteLine($"expert parallel: a token reached at most {d.MostRanksPerToken} of {d.Group.Size} ranks (topk_group {run.Trainer.Model.Config.TopkGroup?.ToString() ?? "none"}); "
                        + $"rank 0 sent {d.BytesSent / 1e6 / Math.Max(1, steps):F1} MB of token rows to other ranks per step");
                }
            }
            if (dp is not null)
            {
                var opt = run.Trainer.Optimizer;
                stderr.WriteLine($"optimizer state: {opt.StateBytes / 1048576.0:F1} MiB on rank 0"
                    + (dp.ShardsOptimizer ? $" (ZeRO-1: its slice of {opt.FullStateBytes / 1048576.0:F1} MiB over {dp.Ranks} ranks)"
                        : dp.Experts is not null ? $" of {opt.FullStateBytes / 1048576.0:F1} MiB (expert parallel: the replicated parameters' and its own experts')"
                        : " (the whole state, on every rank; --zero 1 shards it)"));
                if (dp.Experts is { } split)
                {
                    // Weights, gradients and AdamW moments of the routed experts: 4 floats each where held.
                    var (held, whole) = split.ExpertFloats();
                    int perFloat = opt.Options.Kind == OptimizerKind.AdamW ? 16 : 8;
                    stderr.WriteLine($"routed experts: {held * perFloat / 1048576.0:F1} MiB of weights, gradients and optimizer state on rank 0, "
                        + $"{(double)held / whole:P0} of the {whole * perFloat / 1048576.0:F1} MiB one process holds");
                }
            }
            var final = TrainingRun.LatestCheckpoint(dir);
            stdout.WriteLine(final);
            return CliRunner.Ok;
        }
    }
}
