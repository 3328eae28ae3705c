using SeekSharp.Tests.Cli;
using Xunit;

namespace SeekSharp.Tests.Distributed;

/// <summary>
/// Data parallelism's two ways of moving gradients under <c>mpirun -np 2</c> (docs/distributed.md): ZeRO-1
/// (reduce-scatter, sharded AdamW, all-gather) and buckets all-reduced during the backward pass. Both must give bitwise
/// the weights and optimiser state of plain data parallelism with the buckets all-reduced after it: two ranks add the
/// same two partial gradients whichever way they travel, and AdamW is elementwise.
/// </summary>
public sealed class ZeroAndOverlapTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-zero-").FullName;
    private readonly string _data;

    public ZeroAndOverlapTests()
    {
        var rng = new Random(11);
        string[] words = ["the", "model", "reads", "latent", "keys", "experts", "route", "tokens", "to", "a", "shared", "expert", "and", "predicts", "next"];
        _data = Path.Combine(_dir, "data.txt");
        File.WriteAllText(_data, string.Join(' ', Enumerable.Range(0, 6000).Select(_ => words[rng.Next(words.Length)])));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // AdamW with clipping on (the norm is summed over the shards under ZeRO-1), small buckets so that the tiny model's
    // gradients travel in many of them, some during the backward pass.
    private string[] Args(string output) =>
    [
        "train", "--preset", "tiny", "--data", _data, "--out", output, "--steps", "4", "--batch-size", "4", "--seq-len", "32",
        "--eval-every", "0", "--save-every", "2", "--threads", "1", "--seed", "5", "--lr", "0.002", "--grad-clip", "0.5",
        "--parallel", "dp", "--bucket-mib", "0.05",
    ];

    [Fact]
    public void ZeroOneAndOverlappedBucketsGiveBitwiseThePlainDataParallelRun()
    {
        // Plain: buckets all-reduced after the backward pass, every rank holding the whole optimiser state.
        string plain = Path.Combine(_dir, "plain"), zero = Path.Combine(_dir, "zero");
        var a = OpenMpiJob.Run(2, [.. Args(plain), "--overlap", "false"]);
        Assert.True(a.Code == 0, $"mpirun exit {a.Code}\n{a.Err}");
        Assert.Contains("all-reduced after the backward pass", a.Err);

        // ZeRO-1: the same weights and state, and rank 0 holds half the moments (⌈N/2⌉ floats of each of m and v).
        var b = OpenMpiJob.Run(2, [.. Args(zero), "--zero", "1"]);
        Assert.True(b.Code == 0, $"mpirun exit {b.Code}\n{b.Err}");
        Assert.Contains("reduce-scatter", b.Err);
        AssertSameRun(plain, zero);
        var whole = MiB(a.Err, "optimizer state: ", " MiB on rank 0 (the whole state");
        var half = MiB(b.Err, "optimizer state: ", " MiB on rank 0 (ZeRO-1");
        Assert.Contains($"its slice of {whole:F1} MiB over 2 ranks", b.Err);
        Assert.InRange(half, whole / 2 - 0.1, whole / 2 + 0.1);

        // The ZeRO-1 run resumed from its step-2 checkpoint without ZeRO-1 (its rank 0 saved every rank's moments), the
        // buckets all-reduced during the backward pass: the same weights and state again.
        Directory.Delete(Path.Combine(zero, "checkpoints", "step-00000004"), recursive: true);
        File.WriteAllText(Path.Combine(zero, "checkpoints", "latest"), "step-00000002");
        var c = OpenMpiJob.Run(2, "train", "--resume", "--out", zero, "--threads", "1", "--parallel", "dp", "--bucket-mib", "0.05");
        Assert.True(c.Code == 0, $"mpirun exit {c.Code}\n{c.Err}");
        Assert.Matches(@"[2-9]\d* gradient bucket\(s\), all-reduced during the backward pass", c.Err);
        Assert.Contains("on the communication thread", c.Err);
        AssertSameRun(plain, zero);
    }

    private static void AssertSameRun(string a, string b)
    {
        string ca = Path.Combine(a, "checkpoints", "step-00000004"), cb = Path.Combine(b, "checkpoints", "step-00000004");
        Assert.True(File.ReadAllBytes(Path.Combine(ca, "model.safetensors")).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(cb, "model.safetensors"))),
            "the weights after 4 steps differ");
        Assert.True(StateWithoutClock(ca).AsSpan().SequenceEqual(StateWithoutClock(cb)), "the optimiser state after 4 steps differs");
        Assert.Equal(File.ReadAllLines(Path.Combine(a, "metrics.jsonl")).Select(LossOf), File.ReadAllLines(Path.Combine(b, "metrics.jsonl")).Select(LossOf));
    }

    private static string LossOf(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("loss").GetRawText();

    // training_state.bin without its seconds of training (a wall-clock figure): magic, version, step, tokens, then the
    // elapsed seconds, then the data cursor and the optimiser's step count and moments.
    private static byte[] StateWithoutClock(string checkpoint)
    {
        var bytes = File.ReadAllBytes(Path.Combine(checkpoint, "training_state.bin"));
        using var r = new BinaryReader(new MemoryStream(bytes));
        r.ReadString();
        r.ReadInt32();
        r.ReadInt64();
        r.ReadInt64();
        int clock = (int)r.BaseStream.Position;
        return [.. bytes.AsSpan(0, clock), .. bytes.AsSpan(clock + sizeof(double))];
    }

    private static double MiB(string text, string before, string after)
    {
        int end = text.IndexOf(after, StringComparison.Ordinal);
        Assert.True(end > 0, $"no '{after}' in:\n{text}");
        int start = text.LastIndexOf(before, end, StringComparison.Ordinal) + before.Length;
        return double.Parse(text[start..end], System.Globalization.CultureInfo.InvariantCulture);
    }
}
