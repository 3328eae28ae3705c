using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary>A training run trained for 2 steps by the CLI, shared by the tests below.</summary>
public sealed class TrainedRunFixture : IDisposable
{
    public string Tmp { get; } = Directory.CreateTempSubdirectory("seeksharp-runmodel-").FullName;
    public string Run => Path.Combine(Tmp, "run");
    public string Newest => Path.Combine(Run, "checkpoints", "step-00000002");
    public static string TokenizerDir => Path.Combine(TestUtil.DataDir, "tiny-tokenizer");

    public TrainedRunFixture()
    {
        var text = Path.Combine(Tmp, "text.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("SeekSharp is a DeepSeek-V3 in C#. It trains and chats on a CPU.\n", 40)));
        var (code, _, stderr) = CliTestHost.Run("train", "--init-from", new GoldenCase("v3_yarn_f32").Dir, "--tokenizer", TokenizerDir,
            "--data", text, "--out", Run, "--steps", "2", "--batch-size", "2", "--seq-len", "16", "--eval-every", "0", "--threads", "2");
        if (code != 0) throw new InvalidOperationException($"training the run failed: {stderr}");
    }

    public void Dispose() => Directory.Delete(Tmp, recursive: true);
}

/// <summary>
/// Wherever the CLI takes a model folder, a training run (RUN), its checkpoints folder and its checkpoints/latest file
/// mean the run's newest checkpoint; a folder that is none of these is a one-line error naming it.
/// </summary>
public class RunFolderModelTests(TrainedRunFixture fixture) : IClassFixture<TrainedRunFixture>
{
    private string Run => fixture.Run;
    private string Latest => Path.Combine(Run, "checkpoints", "latest");

    private static (int Code, string Out, string Err) Generate(string model) =>
        CliTestHost.Run("generate", "--model", model, "--prompt", "SeekSharp is", "--max-tokens", "6", "--temperature", "0", "--threads", "2");

    [Fact]
    public void GenerateTakesARunItsCheckpointsFolderOrItsLatestFile()
    {
        var direct = Generate(fixture.Newest);
        Assert.True(direct.Code == 0, direct.Err);
        foreach (var model in new[] { Latest, Run, Path.Combine(Run, "checkpoints") })
        {
            var (code, stdout, stderr) = Generate(model);
            Assert.True(code == 0, $"{model}: {stderr}");   // the tokenizer is the checkpoint's: no --tokenizer needed
            Assert.Equal(direct.Out, stdout);
            Assert.Contains("step-00000002", stderr);     // "loaded RUN/checkpoints/step-00000002: ..."
        }
    }

    [Fact]
    public void TheOtherModelCommandsTakeARunToo()
    {
        var info = CliTestHost.Run("info", "--model", Run);
        Assert.True(info.Code == 0, info.Err);
        Assert.Contains("step-00000002", info.Out);
        var cost = CliTestHost.Run("cost", "--model", Latest, "--tokens", "1M", "--gpu", "h800", "--mfu", "0.4");
        Assert.True(cost.Code == 0, cost.Err);
        var score = CliTestHost.Run("score", "--model", Run, "--tokens", "1,2,3", "--out", Path.Combine(fixture.Tmp, "logits.f32"), "--threads", "2");
        Assert.True(score.Code == 0, score.Err);
        var quantized = Path.Combine(fixture.Tmp, "q8");
        var quantize = CliTestHost.Run("quantize", "--model", Latest, "--out", quantized, "--type", "q8", "--threads", "2");
        Assert.True(quantize.Code == 0, quantize.Err);
        Assert.True(File.Exists(Path.Combine(quantized, "tokenizer.json")));   // copied from the resolved checkpoint
        var textFile = Path.Combine(fixture.Tmp, "text.txt");
        var perplexity = CliTestHost.Run("perplexity", "--model", Run, "--file", textFile, "--window", "16", "--max-windows", "2", "--threads", "2");
        Assert.True(perplexity.Code == 0, perplexity.Err);
        var chat = CliTestHost.RunWithInput("Hi\n/exit\n", "chat", "--model", Latest, "--max-tokens", "2", "--temperature", "0", "--threads", "2");
        Assert.True(chat.Code == 0, chat.Err);
        var fineTune = CliTestHost.Run("train", "--init-from", Latest, "--data", textFile, "--out", Path.Combine(fixture.Tmp, "tuned"),
            "--steps", "1", "--batch-size", "1", "--seq-len", "16", "--eval-every", "0", "--threads", "2");
        Assert.True(fineTune.Code == 0, fineTune.Err);
    }

    [Fact]
    public void AFolderThatHoldsNoModelIsAOneLineErrorNamingIt()
    {
        var empty = Directory.CreateTempSubdirectory("seeksharp-nomodel-").FullName;
        try
        {
            foreach (var args in new[]
            {
                new[] { "generate", "--model", empty, "--prompt", "x" },
                ["info", "--model", empty],
                ["train", "--init-from", empty, "--data", Path.Combine(fixture.Tmp, "text.txt"), "--out", Path.Combine(empty, "out")],
            })
            {
                var (code, _, stderr) = CliTestHost.Run(args);
                Assert.Equal(1, code);
                Assert.Single(stderr.Trim().Split('\n'));
                Assert.Contains($"{empty} holds no model", stderr);
                Assert.Contains("training run", stderr);
            }
        }
        finally { Directory.Delete(empty, recursive: true); }
    }
}
