using SeekSharp.Tests.Golden;
using SeekSharp.Tests.Model;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary><c>export gguf</c> and <c>--model FILE.gguf</c> as a user types them.</summary>
public class ExportGgufCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-ggufcli-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static string ModelDir => new GoldenCase("v3_yarn_f32").Dir;
    private static string TokenizerDir => Path.Combine(TestUtil.DataDir, "tiny-tokenizer");

    [Fact]
    public void ExportedGoldenModelGeneratesWhatTheFolderDoes()
    {
        string gguf = Path.Combine(_tmp, "golden.gguf");
        var export = CliTestHost.Run("export", "gguf", "--model", ModelDir, "--out", gguf, "--mtp");
        Assert.True(export.Code == 0, export.Err);
        Assert.Equal(gguf, export.Out.Trim());
        Assert.Contains("deepseek2", export.Err);
        Assert.Contains("warning: llama.cpp builds without deepseek2 MTP support", export.Err);   // --mtp
        Assert.Empty(Directory.GetFiles(_tmp, "*.tmp-*"));
        string[] common = ["--tokenizer", TokenizerDir, "--prompt", "SeekSharp is", "--max-tokens", "24", "--temperature", "0", "--threads", "2"];
        var folder = CliTestHost.Run(["generate", "--model", ModelDir, .. common]);
        var file = CliTestHost.Run(["generate", "--model", gguf, .. common]);
        Assert.True(file.Code == 0, file.Err);
        Assert.Equal(folder.Out, file.Out);
        var speculative = CliTestHost.Run(["generate", "--model", gguf, "--speculative", "mtp", .. common]);
        Assert.Equal(folder.Out, speculative.Out);
        Assert.Contains("MTP drafts accepted", speculative.Err);

        var info = CliTestHost.Run("info", "--model", gguf);
        Assert.True(info.Code == 0, info.Err);
        Assert.Equal(CliTestHost.Run("info", "--model", ModelDir).Out.Replace(ModelDir, "M"), info.Out.Replace(gguf, "M"));

        // This export has no tokenizer (the golden folder has none): the error says what to pass.
        var noTok = CliTestHost.Run("generate", "--model", gguf, "--prompt", "x");
        Assert.Equal(1, noTok.Code);
        Assert.Contains("--tokenizer", noTok.Err);
    }

    [Fact]
    public void DefaultModelAsQ8GgufCarriesItsTokenizer()
    {
        string gguf = Path.Combine(_tmp, "default-q8.gguf");
        var export = CliTestHost.Run("export", "gguf", "--model", GgufRoundTripTests.DefaultModel, "--out", gguf, "--type", "q8_0");
        Assert.True(export.Code == 0, export.Err);
        string[] common = ["--prompt", "What does 'apple' mean?", "--chat", "--max-tokens", "16", "--temperature", "0", "--threads", "2"];
        var folder = CliTestHost.Run(["generate", "--model", GgufRoundTripTests.DefaultModel, .. common]);
        var file = CliTestHost.Run(["generate", "--model", gguf, .. common]);
        Assert.True(file.Code == 0, file.Err);
        Assert.NotEmpty(file.Out.Trim());
        Assert.Equal(folder.Out, file.Out);
    }

    [Fact]
    public void BadInputIsAOneLineError()
    {
        var badType = CliTestHost.Run("export", "gguf", "--model", ModelDir, "--out", Path.Combine(_tmp, "x.gguf"), "--type", "q5_k");
        Assert.NotEqual(0, badType.Code);
        Assert.False(File.Exists(Path.Combine(_tmp, "x.gguf")));

        string notGguf = Path.Combine(_tmp, "notes.gguf");
        File.WriteAllText(notGguf, "hello, this is not a model");
        var wrong = CliTestHost.Run("generate", "--model", notGguf, "--tokenizer", TokenizerDir, "--prompt", "x");
        Assert.Equal(1, wrong.Code);
        Assert.Contains("not GGUF", wrong.Err);

        string gguf = Path.Combine(_tmp, "cut.gguf");
        Assert.Equal(0, CliTestHost.Run("export", "gguf", "--model", ModelDir, "--out", gguf).Code);
        var bytes = File.ReadAllBytes(gguf);
        File.WriteAllBytes(gguf, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var cut = CliTestHost.Run("generate", "--model", gguf, "--tokenizer", TokenizerDir, "--prompt", "x");
        Assert.Equal(1, cut.Code);
        Assert.Contains("truncated", cut.Err);
        Assert.DoesNotContain("   at ", cut.Err);
    }
}
