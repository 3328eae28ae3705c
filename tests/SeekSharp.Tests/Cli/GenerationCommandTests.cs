using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary>generate, chat and quantize as a user types them (golden v3 model, tiny tokenizer).</summary>
[Collection("SEEKSHARP_MODEL")]   // one test sets the variable that DefaultModelTests reads
public class GenerationCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-gen-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static string ModelDir => new GoldenCase("v3_yarn_f32").Dir;
    private static string TokenizerDir => Path.Combine(TestUtil.DataDir, "tiny-tokenizer");

    [Fact]
    public void GeneratePrintsOnlyTheTextOnStdoutAndSpeedOnStderr()
    {
        var (code, stdout, stderr) = CliTestHost.Run("generate", "--model", ModelDir, "--tokenizer", TokenizerDir, "--prompt", "SeekSharp is",
            "--max-tokens", "24", "--temperature", "0", "--threads", "2");
        Assert.True(code == 0, stderr);
        Assert.Equal("oate\uFFFD*\u0013C\uFFFDQ\u07C9*5w9 f00\v1_seF d00rc\n", stdout.Replace("\r\n", "\n"));
        Assert.Contains("tokens/s", stderr);
        var spec = CliTestHost.Run("generate", "--model", ModelDir, "--tokenizer", TokenizerDir, "--prompt", "SeekSharp is",
            "--max-tokens", "24", "--temperature", "0", "--speculative", "mtp", "--threads", "2");
        Assert.Equal(stdout, spec.Out);
        Assert.Contains("MTP drafts accepted", spec.Err);
    }

    [Fact]
    public void GenerateErrorsAreOneLine()
    {
        var noTok = CliTestHost.Run("generate", "--model", ModelDir, "--prompt", "x");
        Assert.Equal(1, noTok.Code);
        Assert.Contains("no tokenizer.json", noTok.Err);
        var badTemp = CliTestHost.Run("generate", "--model", ModelDir, "--tokenizer", TokenizerDir, "--prompt", "x", "--temperature", "-2");
        Assert.Equal(1, badTemp.Code);
        Assert.Contains("emperature", badTemp.Err);
        var bigContext = CliTestHost.Run("generate", "--model", ModelDir, "--tokenizer", TokenizerDir, "--prompt", "x", "--context", "100000");
        Assert.Equal(1, bigContext.Code);
        Assert.Contains("max_position_embeddings", bigContext.Err);
    }

    [Fact]
    public void ChatKeepsHistoryAndHandlesCommands()
    {
        var input = "Hello\n/system Be brief.\nWhat is MLA?\n/bogus\n/reset\nAgain\n/exit\nnever read\n";
        var (code, stdout, stderr) = CliTestHost.RunWithInput(input, "chat", "--model", ModelDir, "--tokenizer", TokenizerDir,
            "--max-tokens", "6", "--temperature", "0", "--threads", "2", "--context", "128");
        Assert.True(code == 0, stderr);
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(stderr, @"\[prompt").Count);   // three replies
        Assert.Contains("system prompt set", stderr);
        Assert.Contains("unknown command /bogus", stderr);
        Assert.Contains("conversation cleared", stderr);
        Assert.StartsWith("> ", stdout);
    }

    [Fact]
    public void AModelFromSeekSharpModelThatIsNotThereIsAClearError()
    {
        Environment.SetEnvironmentVariable("SEEKSHARP_MODEL", Path.Combine(_tmp, "absent"));
        try
        {
            var (code, _, stderr) = CliTestHost.RunWithInput("/exit\n", "chat", "--tokenizer", TokenizerDir);
            Assert.Equal(1, code);
            Assert.Contains("SEEKSHARP_MODEL is", stderr);
            Assert.Contains("--model", stderr);
        }
        finally { Environment.SetEnvironmentVariable("SEEKSHARP_MODEL", null); }
    }

    [Fact]
    public void GenerationDefaultsComeFromTheModelsGenerationConfig()
    {
        var dir = Path.Combine(_tmp, "with-config");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(ModelDir).Where(f => f.EndsWith("config.json") || f.EndsWith("model.safetensors")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"do_sample": false, "max_new_tokens": 7}""");
        var byConfig = CliTestHost.Run("generate", "--model", dir, "--tokenizer", TokenizerDir, "--prompt", "SeekSharp is", "--threads", "2");
        var byFlags = CliTestHost.Run("generate", "--model", ModelDir, "--tokenizer", TokenizerDir, "--prompt", "SeekSharp is", "--temperature", "0", "--max-tokens", "7", "--threads", "2");
        Assert.True(byConfig.Code == 0, byConfig.Err);
        Assert.Equal(byFlags.Out, byConfig.Out);
        Assert.Contains("generated 7", byConfig.Err);
        // Flags win over the file.
        var longer = CliTestHost.Run("generate", "--model", dir, "--tokenizer", TokenizerDir, "--prompt", "SeekSharp is", "--max-tokens", "9", "--threads", "2");
        Assert.Contains("generated 9", longer.Err);
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"temperature": "hot"}""");
        var bad = CliTestHost.Run("generate", "--model", dir, "--tokenizer", TokenizerDir, "--prompt", "x");
        Assert.Equal(1, bad.Code);
        Assert.Contains("\"temperature\" must be a number", bad.Err);
    }

    [Fact]
    public void QuantizedModelsLoadAndGenerate()
    {
        foreach (var type in new[] { "q8", "q4" })
        {
            var dir = Path.Combine(_tmp, type);
            var (code, _, stderr) = CliTestHost.Run("quantize", "--model", ModelDir, "--out", dir, "--type", type, "--threads", "2");
            Assert.True(code == 0, stderr);
            var q = SeekSharp.Model.ModelLoader.Load(dir);
            Assert.Equal(type == "q8" ? "Q8_0" : "Q4_0", q.GetParameter("model.layers.1.mlp.experts.3.up_proj.weight").Storage);
            Assert.Equal("F32", q.GetParameter("model.layers.1.mlp.gate.weight").Storage);   // the router stays unquantised
            var gen = CliTestHost.Run("generate", "--model", dir, "--tokenizer", TokenizerDir, "--prompt", "Hi", "--max-tokens", "5", "--temperature", "0");
            Assert.True(gen.Code == 0, gen.Err);
            var onLoad = CliTestHost.Run("generate", "--model", ModelDir, "--tokenizer", TokenizerDir, "--prompt", "Hi", "--max-tokens", "5", "--temperature", "0", "--quantize", type);
            Assert.Equal(gen.Out, onLoad.Out);   // quantise-on-load = the quantised checkpoint
        }
    }
}
