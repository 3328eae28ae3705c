using System.Text.Json;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Cli;
using Xunit;

namespace SeekSharp.Tests.Distributed;

/// <summary>
/// Expert-parallel training under <c>mpirun</c> against one process with the same global batch (docs/distributed.md):
/// the routed experts are split over the ranks and tokens travel to them by all-to-allv; the losses and weights after
/// K steps agree within float reordering, node-limited routing bounds the ranks a token reaches, and a run resumes on
/// one process.
/// </summary>
public sealed class ExpertParallelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-ep-").FullName;
    private readonly string _data;

    public ExpertParallelTests()
    {
        var rng = new Random(11);
        string[] words = ["the", "model", "reads", "latent", "keys", "experts", "route", "tokens", "to", "a", "shared", "expert", "and", "predicts", "next"];
        _data = Path.Combine(_dir, "data.txt");
        File.WriteAllText(_data, string.Join(' ', Enumerable.Range(0, 6000).Select(_ => words[rng.Next(words.Length)])));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // The tiny preset: 16 routed experts in 4 groups, topk_group 2, 4 experts per token, an MTP module with its own MoE.
    private string[] Args(string output, string optimizer, int batchSize = 4) =>
    [
        "train", "--preset", "tiny", "--data", _data, "--out", output, "--steps", "4", "--batch-size", batchSize.ToString(), "--seq-len", "32",
        "--eval-every", "2", "--eval-batches", "2", "--save-every", "2", "--threads", "1", "--seed", "5", "--optimizer", optimizer,
        "--lr", optimizer == "sgd" ? "0.05" : "0.0006",
    ];

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    public void TwoExpertParallelRanksTrainAsOneProcess(string optimizer)
    {
        string one = Path.Combine(_dir, "one"), two = Path.Combine(_dir, "two");
        var single = CliTestHost.Run(Args(one, optimizer));
        Assert.True(single.Code == 0, single.Err);
        var job = OpenMpiJob.Run(2, [.. Args(two, optimizer), "--parallel", "ep"]);
        Assert.True(job.Code == 0, $"mpirun exit {job.Code}\n{job.Out}\n{job.Err}");
        Assert.Contains("expert parallel: 1 group(s) of 2 ranks, 8 of 16 routed experts per rank", job.Err);
        AssertExpertMemory(job.Err, 0.5);
        AssertSameRun(one, two, optimizer);
    }

    [Theory]
    [InlineData("ep")]
    [InlineData("dp,ep")]
    public void FourRanksTrainAsOneProcess(string mode)
    {
        // ep: four ranks split the experts, one group of 4 experts a rank, so a token's experts (in at most topk_group 2
        // of the 4 groups) lie on at most 2 ranks. dp,ep: two groups of two ranks split the experts and are
        // data-parallel replicas. Batch 4: one sequence a rank.
        string one = Path.Combine(_dir, "one"), four = Path.Combine(_dir, "four");
        Assert.Equal(0, CliTestHost.Run(Args(one, "sgd")).Code);
        string[] layout = mode == "ep" ? ["--parallel", "ep"] : ["--parallel", "dp,ep", "--ep", "2"];
        var job = OpenMpiJob.Run(4, [.. Args(four, "sgd"), .. layout]);
        Assert.True(job.Code == 0, $"mpirun exit {job.Code}\n{job.Out}\n{job.Err}");
        if (mode == "ep")
        {
            Assert.Contains("expert parallel: 1 group(s) of 4 ranks, 4 of 16 routed experts per rank", job.Err);
            AssertExpertMemory(job.Err, 0.25);
            var reached = System.Text.RegularExpressions.Regex.Match(job.Err, @"a token reached at most (\d+) of 4 ranks");
            Assert.True(reached.Success, job.Err);
            Assert.InRange(int.Parse(reached.Groups[1].Value), 1, 2);
        }
        else Assert.Contains("expert parallel: 2 group(s) of 2 ranks", job.Err);
        AssertSameRun(one, four, "sgd");
    }

    [Fact]
    public void AnExpertParallelRunResumesOnOneProcess()
    {
        // Two ranks to step 4 (checkpoints at 2 and 4, with every expert's weights and AdamW moments gathered from its
        // owner); then one process resumes the step-2 checkpoint and must end where the two ranks ended.
        string two = Path.Combine(_dir, "two"), resumed = Path.Combine(_dir, "resumed");
        var job = OpenMpiJob.Run(2, [.. Args(two, "adamw"), "--parallel", "ep"]);
        Assert.True(job.Code == 0, $"mpirun exit {job.Code}\n{job.Out}\n{job.Err}");
        CopyDirectory(two, resumed);
        Directory.Delete(Checkpoint(resumed, 4), recursive: true);
        File.WriteAllText(Path.Combine(resumed, "checkpoints", "latest"), "step-00000002");
        var single = CliTestHost.Run("train", "--resume", "--out", resumed, "--threads", "1");
        Assert.True(single.Code == 0, single.Err);
        var (_, worstAbsolute) = Compare(Checkpoint(two, 4), Checkpoint(resumed, 4));
        // Lost moments would move a weight by a good part of lr per step; reordering moves it by ≤ a few % of a step.
        Assert.True(worstAbsolute <= 0.05 * 6e-4 * 2, $"AdamW weights differ by {worstAbsolute:G3} (bound: 5% of 2 steps of lr 6e-4)");
        var a = Losses(two);
        var b = Losses(resumed);
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-7 * Math.Abs(a[i]), $"step {i + 1}: loss {a[i]} against {b[i]}");
    }

    [Fact]
    public void AGroupSizeThatDoesNotDivideTheRanksIsRefused()
    {
        var job = OpenMpiJob.Run(2, [.. Args(Path.Combine(_dir, "odd"), "sgd"), "--parallel", "dp,ep", "--ep", "3"]);
        Assert.NotEqual(0, job.Code);
        Assert.Contains("--ep 3 does not divide the job's 2 ranks", job.Err);
    }

    [Theory]
    [InlineData("noaux_tc", true)]
    [InlineData("greedy", false)]
    public void NodeLimitedRoutingSendsATokenToAtMostTopkGroupRanks(string method, bool limited)
    {
        // 32 experts in 8 groups over 4 ranks (two groups a rank), 6 experts a token from at most 2 groups: a token's
        // experts lie on at most 2 ranks. Greedy top-6 routing, without the group limit, reaches more.
        var config = Presets.Get("tiny") with { NRoutedExperts = 32, NGroup = 8, TopkGroup = 2, NumExpertsPerTok = 6, TopkMethodName = method };
        using var model = DeepSeekModel.Create(config);
        ModelInitializer.Initialize(model, 3);
        var rng = new Random(4);
        var router = model.Layers[1].Moe!.Router;
        if (router.Bias is { } bias) for (int i = 0; i < bias.Size; i++) bias.Span[i] = (float)(rng.NextDouble() - 0.5) * 0.1f;
        int n = 512, d = config.HiddenSize;
        var u = Tensor.Zeros(n, d);                                         // [n, d]
        for (int i = 0; i < u.Size; i++) u.Span[i] = (float)(rng.NextDouble() * 2 - 1);
        using var pool = new WorkerPool(1);
        var ctx = new ForwardContext(pool);
        var routing = new Router.Routing();
        router.Route(ctx, u, routing);
        int ranks = MoeDispatch.RanksReached(routing.Indices.AsSpan(0, n * 6), 6, expertsPerRank: 32 / 4);
        if (limited) Assert.True(ranks <= 2, $"a token reached {ranks} ranks with topk_group 2");
        else Assert.True(ranks > 2, $"greedy routing reached only {ranks} ranks");
    }

    // Rank 0 holds the weights, gradients and moments of its own experts only (the others were dropped when the trainer
    // attached, and the ones gathered for each evaluation and checkpoint dropped again).
    private static void AssertExpertMemory(string err, double share)
    {
        var line = System.Text.RegularExpressions.Regex.Match(err, @"routed experts: [\d.]+ MiB of weights, gradients and optimizer state on rank 0, (\d+) ?% of the [\d.]+ MiB");
        Assert.True(line.Success, err);
        Assert.Equal(share * 100, int.Parse(line.Groups[1].Value));
    }

    private static void AssertSameRun(string one, string other, string optimizer)
    {
        var a = Losses(one);
        var b = Losses(other);
        var va = ValidationLosses(one);
        var vb = ValidationLosses(other);
        Assert.Equal(2, va.Count);   // steps 2 and 4, evaluated on rank 0 with every expert gathered from its owner
        Assert.Equal(va.Count, vb.Count);
        for (int i = 0; i < va.Count; i++) Assert.True(Math.Abs(va[i] - vb[i]) <= 1e-6 * Math.Abs(va[i]), $"validation {i + 1}: {va[i]} against {vb[i]}");
        Assert.Equal(4, a.Count);
        Assert.Equal(a.Count, b.Count);
        Assert.True(Math.Abs(a[0] - b[0]) <= 1e-12 * a[0], $"step 1: loss {a[0]} against {b[0]}");
        for (int i = 0; i < a.Count; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-7 * Math.Abs(a[i]), $"step {i + 1}: loss {a[i]} against {b[i]}");
        var (worstRelative, worstAbsolute) = Compare(Checkpoint(one, 4), Checkpoint(other, 4));
        if (optimizer == "sgd") Assert.True(worstRelative <= 1e-6, $"SGD weights differ by {worstRelative:G3} of a tensor's largest value");
        else Assert.True(worstAbsolute <= 0.05 * 6e-4 * 4, $"AdamW weights differ by {worstAbsolute:G3} (bound: 5% of 4 steps of lr 6e-4)");
    }

    private static List<double> ValidationLosses(string run) => File.ReadLines(Path.Combine(run, "metrics.jsonl"))
        .Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement)
        .Where(e => e.TryGetProperty("val_loss", out var v) && v.ValueKind == JsonValueKind.Number).Select(e => e.GetProperty("val_loss").GetDouble()).ToList();

    private static string Checkpoint(string run, int step) => Path.Combine(run, "checkpoints", $"step-{step:D8}");

    private static List<double> Losses(string run) => File.ReadLines(Path.Combine(run, "metrics.jsonl"))
        .Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToList();

    // The largest difference of any weight, relative to its tensor's largest magnitude, and absolute.
    private static (double Relative, double Absolute) Compare(string dirA, string dirB)
    {
        using var a = ModelLoader.Load(dirA, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        using var b = ModelLoader.Load(dirB, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        var bParams = b.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        double relative = 0, absolute = 0;
        foreach (var (name, p) in a.NamedParameters())
        {
            p.ConvertTo(SeekSharp.Tensors.Weights.WeightFormat.F32);
            var q = bParams[name];
            q.ConvertTo(SeekSharp.Tensors.Weights.WeightFormat.F32);
            float max = 0;
            double diff = 0;
            for (int i = 0; i < p.Data!.Length; i++)
            {
                max = Math.Max(max, Math.Abs(p.Data[i]));
                diff = Math.Max(diff, Math.Abs((double)p.Data[i] - q.Data![i]));
            }
            absolute = Math.Max(absolute, diff);
            if (max > 0) relative = Math.Max(relative, diff / max);
        }
        return (relative, absolute);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to));
    }
}
