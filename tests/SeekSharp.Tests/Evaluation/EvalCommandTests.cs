using System.Text.Json;
using SeekSharp.Tests.Cli;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Evaluation;

/// <summary><c>seeksharp eval</c> as a user runs it, on the golden model with the tiny tokenizer.</summary>
public class EvalCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-eval-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string Model()
    {
        // The golden model with the tiny chat tokenizer beside it: a model folder a user would point eval at.
        var dir = Path.Combine(_tmp, "model");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(new GoldenCase("v3_yarn_f32").Dir).Where(f => f.EndsWith("config.json") || f.EndsWith("model.safetensors")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        foreach (var f in Directory.GetFiles(Path.Combine(TestUtil.DataDir, "tiny-tokenizer")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)), overwrite: true);
        return dir;
    }

    [Fact]
    public void ScoresEveryAnswerAndKeepsThem()
    {
        var model = Model();
        var qa = Path.Combine(_tmp, "qa.jsonl");
        File.WriteAllLines(qa,
        [
            """{"messages": [{"role": "user", "content": "What is the atomic number of gold?"}], "references": ["79"], "scoring": "exact", "kind": "element"}""",
            """{"messages": [{"role": "user", "content": "What does dog mean?"}], "references": ["a domesticated carnivore"], "kind": "definition"}""",
            """{"messages": [{"role": "user", "content": "What does cat mean?"}], "references": ["a feline mammal"], "kind": "definition"}""",
        ]);
        var results = Path.Combine(_tmp, "out", "results.jsonl");
        var (code, stdout, stderr) = CliTestHost.Run("eval", "--model", model, "--qa", qa, "--max-tokens", "8", "--out", results, "--threads", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("element", stdout);
        Assert.Contains("definition", stdout);
        Assert.Contains("generated", stdout);
        var rows = File.ReadAllLines(results).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(3, rows.Length);
        Assert.Equal("What does dog mean?", rows[1].GetProperty("question").GetString());
        // Random weights answer nonsense: nothing is correct, and greedy decoding makes the answers repeatable.
        Assert.All(rows, r => Assert.False(r.GetProperty("correct").GetBoolean()));
        var again = CliTestHost.Run("eval", "--model", model, "--qa", qa, "--max-tokens", "8", "--json", "--limit", "2", "--speculative", "mtp", "--threads", "2");
        Assert.True(again.Code == 0, again.Err);
        var summary = JsonDocument.Parse(again.Out).RootElement;
        Assert.Equal(2, summary.GetProperty("questions").GetInt32());
        Assert.True(summary.GetProperty("generation").GetProperty("Drafted").GetInt32() > 0);
    }

    [Fact]
    public void BadEvaluationFilesAreClearErrors()
    {
        var qa = Path.Combine(_tmp, "bad.jsonl");
        File.WriteAllLines(qa, ["""{"messages": [{"role": "user", "content": "q"}], "references": ["x"]}""", "not json"]);
        var bad = CliTestHost.Run("eval", "--model", _tmp, "--qa", qa);
        Assert.Equal(1, bad.Code);
        Assert.Contains("bad.jsonl:2: not valid JSON", bad.Err);
        var missing = CliTestHost.Run("eval", "--model", _tmp, "--qa", Path.Combine(_tmp, "none.jsonl"));
        Assert.Contains("Evaluation file not found", missing.Err);
    }
}
