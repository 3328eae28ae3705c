using SeekSharp.Model;
using SeekSharp.Tests.Cli;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary><c>seeksharp train --chat</c> as a user runs it: fine-tuning on OpenAI-style JSONL, exact resume, clear errors.</summary>
public class ChatTrainCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-chattrain-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static string TokenizerDir => Path.Combine(TestUtil.DataDir, "tiny-tokenizer");

    private string ChatFile(params string[] lines)
    {
        var path = Path.Combine(_tmp, $"chat-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    private string Conversations()
    {
        var rows = Enumerable.Range(0, 40).Select(i =>
            $$"""{"messages": [{"role": "user", "content": "What is {{i}} plus one?"}, {"role": "assistant", "content": "It is {{i + 1}}."}]}""");
        return ChatFile(rows.Prepend("""{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}""").ToArray());
    }

    private string[] Train(string run, string data, int steps, params string[] extra) =>
        ["train", "--init-from", new GoldenCase("v3_yarn_f32").Dir, "--tokenizer", TokenizerDir, "--chat", data, "--out", run, "--steps", steps.ToString(),
         "--batch-size", "2", "--seq-len", "48", "--lr", "1e-3", "--eval-every", "2", "--eval-batches", "1", "--save-every", "2", "--val-fraction", "0.1",
         "--seed", "3", "--threads", "2", "--schedule", "constant", "--warmup", "0", .. extra];

    [Fact]
    public void FineTunesOnConversationsAndResumesExactly()
    {
        var data = Conversations();
        var whole = CliTestHost.Run(Train(Path.Combine(_tmp, "whole"), data, 4));
        Assert.True(whole.Code == 0, whole.Err);
        Assert.Contains("chat data: 37 conversations", whole.Err);
        Assert.Contains("4 held out", whole.Err);
        var metrics = File.ReadAllLines(Path.Combine(_tmp, "whole", "metrics.jsonl"));
        Assert.Equal(4, metrics.Length);
        Assert.Contains("\"val_loss\"", metrics[1]);

        // The same run stopped after 2 steps and extended to 4 with --resume ends with the same weights, bit for bit
        // (a constant learning rate, so that the schedule does not depend on the step count).
        var half = CliTestHost.Run(Train(Path.Combine(_tmp, "half"), data, 2));
        Assert.True(half.Code == 0, half.Err);
        var resumed = CliTestHost.Run("train", "--resume", "--out", Path.Combine(_tmp, "half"), "--steps", "4", "--threads", "2");
        Assert.True(resumed.Code == 0, resumed.Err);
        var a = ModelLoader.Load(whole.Out.Trim());
        var b = ModelLoader.Load(resumed.Out.Trim());
        foreach (var (name, p) in a.NamedParameters()) Assert.Equal(p.ToFloat32(), b.GetParameter(name).ToFloat32());
    }

    [Fact]
    public void BadChatDataIsAClearErrorNamingTheLine()
    {
        var g = new GoldenCase("v3_yarn_f32");
        (int Code, string Err) Run(string data, params string[] extra)
        {
            var r = CliTestHost.Run(["train", "--init-from", g.Dir, "--tokenizer", TokenizerDir, "--chat", data, "--out", Path.Combine(_tmp, Guid.NewGuid().ToString("N")), "--seq-len", "48", .. extra]);
            return (r.Code, r.Err);
        }
        var ok = """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}""";
        var notJson = Run(ChatFile(ok, "{oops"));
        Assert.Equal(1, notJson.Code);
        Assert.Contains(":2: not valid JSON", notJson.Err);
        var badRole = Run(ChatFile(ok, ok, """{"messages": [{"role": "robot", "content": "x"}]}"""));
        Assert.Contains(":3: message 0 has role \"robot\"", badRole.Err);
        var noReply = Run(ChatFile("""{"messages": [{"role": "user", "content": "Hi"}]}"""));
        Assert.Contains(":1: the conversation has no assistant message", noReply.Err);
        var noMessages = Run(ChatFile("""{"text": "Hi"}"""));
        Assert.Contains("\"messages\" array", noMessages.Err);
        var missing = Run(Path.Combine(_tmp, "none.jsonl"));
        Assert.Contains("Chat data not found", missing.Err);
        var both = CliTestHost.Run("train", "--preset", "tiny", "--data", "x.txt", "--chat", "y.jsonl", "--out", Path.Combine(_tmp, "both"));
        Assert.Equal(2, both.Code);
        Assert.Contains("exactly one of --data or --chat", both.Err);
    }
}
