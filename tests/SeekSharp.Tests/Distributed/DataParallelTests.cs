using System.Text.Json;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Cli;
using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Distributed;

/// <summary>
/// Data-parallel training under <c>mpirun -np 2</c> against one process with the same global batch (docs/distributed.md):
/// the losses and weights after K steps agree within float reordering, and a run resumes on another number of ranks.
/// </summary>
public sealed class DataParallelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-dp-").FullName;
    private readonly string _data;

    public DataParallelTests()
    {
        // A small deterministic text; the tiny preset reads it as UTF-8 bytes.
        var rng = new Random(11);
        string[] words = ["the", "model", "reads", "latent", "keys", "experts", "route", "tokens", "to", "a", "shared", "expert", "and", "predicts", "next"];
        _data = Path.Combine(_dir, "data.txt");
        File.WriteAllText(_data, string.Join(' ', Enumerable.Range(0, 6000).Select(_ => words[rng.Next(words.Length)])));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Args(string output, string optimizer, int batchSize = 4) =>
    [
        "train", "--preset", "tiny", "--data", _data, "--out", output, "--steps", "4", "--batch-size", batchSize.ToString(), "--seq-len", "32",
        "--eval-every", "0", "--save-every", "2", "--threads", "1", "--seed", "5", "--optimizer", optimizer,
        "--lr", optimizer == "sgd" ? "0.05" : "0.0006",
    ];

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    public void TwoRanksTrainAsOneProcessWithTheSameGlobalBatch(string optimizer)
    {
        string one = Path.Combine(_dir, "one"), two = Path.Combine(_dir, "two");
        var single = CliTestHost.Run(Args(one, optimizer));
        Assert.True(single.Code == 0, single.Err);
        var job = OpenMpiJob.Run(2, [.. Args(two, optimizer), "--parallel", "dp"]);
        Assert.True(job.Code == 0, $"mpirun exit {job.Code}\n{job.Out}\n{job.Err}");
        Assert.Contains("data parallel over 2 ranks", job.Err);

        // Losses: each step's global loss, summed from the two shards (each divided by the global counts).
        var a = Losses(one);
        var b = Losses(two);
        Assert.Equal(4, a.Count);
        Assert.Equal(a.Count, b.Count);
        // Step 1: the same weights, and each row's loss the same; only the shards' sums are added in another order.
        Assert.True(Math.Abs(a[0] - b[0]) <= 1e-12 * a[0], $"step 1: loss {a[0]} against {b[0]}");
        for (int i = 0; i < a.Count; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-7 * Math.Abs(a[i]), $"step {i + 1}: loss {a[i]} against {b[i]}");

        // Weights: the gradient sums differ only in float order. SGD keeps that at the last bits; AdamW divides by √v,
        // which for weights whose gradient is near zero turns those bits into up to a few percent of one step's update.
        var (worstRelative, worstAbsolute) = Compare(Checkpoint(one, 4), Checkpoint(two, 4));
        if (optimizer == "sgd") Assert.True(worstRelative <= 1e-6, $"SGD weights differ by {worstRelative:G3} of a tensor's largest value");
        else Assert.True(worstAbsolute <= 0.05 * 6e-4 * 4, $"AdamW weights differ by {worstAbsolute:G3} (bound: 5% of 4 steps of lr 6e-4)");
    }

    [Fact]
    public void ARunResumesOnAnotherNumberOfRanks()
    {
        // One process to step 4 (checkpoints at 2 and 4); then the same run from its step-2 checkpoint on two ranks.
        string one = Path.Combine(_dir, "one"), resumed = Path.Combine(_dir, "resumed");
        Assert.Equal(0, CliTestHost.Run(Args(one, "sgd")).Code);
        CopyDirectory(one, resumed);
        Directory.Delete(Checkpoint(resumed, 4), recursive: true);
        File.WriteAllText(Path.Combine(resumed, "checkpoints", "latest"), "step-00000002");
        var job = OpenMpiJob.Run(2, "train", "--resume", "--out", resumed, "--threads", "1", "--parallel", "dp");
        Assert.True(job.Code == 0, $"mpirun exit {job.Code}\n{job.Out}\n{job.Err}");
        Assert.Contains("resuming", job.Err);
        var (worstRelative, _) = Compare(Checkpoint(one, 4), Checkpoint(resumed, 4));
        Assert.True(worstRelative <= 1e-6, $"weights differ by {worstRelative:G3} of a tensor's largest value");
        Assert.Equal(4, Losses(resumed).Count);   // metrics.jsonl: steps 3 and 4 appended to the kept 1 and 2
    }

    [Fact]
    public void ABatchThatDoesNotSplitOverTheRanksIsRefusedOnEveryRank()
    {
        var job = OpenMpiJob.Run(2, [.. Args(Path.Combine(_dir, "odd"), "sgd", batchSize: 3), "--parallel", "dp"]);
        Assert.NotEqual(0, job.Code);
        Assert.Contains("does not split over 2 data-parallel ranks", job.Err);
    }

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
