using System.Text.Json;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class TokenizerCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekSharp.Cli.Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Tok => TokenizerData.DeepSeekV3Folder;

    [Fact]
    public void TokenizePrintsIdsAsJson()
    {
        var (code, output, _) = Run("tokenize", "--tokenizer", Tok, "--text", "Hello, world! 🦙 <｜User｜>hi");
        Assert.Equal(0, code);
        Assert.Equal(TokenizerData.DeepSeekV3.Encode("Hello, world! 🦙 <｜User｜>hi"), JsonSerializer.Deserialize<int[]>(output));
        Assert.Equal("[0,19923]", Run("tokenize", "--tokenizer", Tok, "--text", "Hello", "--add-bos").Out.Trim());
        Assert.Equal("2", Run("tokenize", "--tokenizer", Tok, "--text", "Hello", "--add-bos", "--count").Out.Trim());
    }

    [Fact]
    public void TokenizeReadsAFileAndRejectsBadUsage()
    {
        string folder = TokenizerData.TempFolder();
        try
        {
            string file = Path.Combine(folder, "in.txt");
            File.WriteAllText(file, "深度求索\n");
            Assert.Equal(TokenizerData.DeepSeekV3.Encode("深度求索\n"), JsonSerializer.Deserialize<int[]>(Run("tokenize", "--tokenizer", Tok, "--file", file).Out));
            Assert.Equal(2, Run("tokenize", "--tokenizer", Tok).Code);
            Assert.Equal(2, Run("tokenize", "--tokenizer", Tok, "--text", "a", "--file", file).Code);
            var missing = Run("tokenize", "--tokenizer", Path.Combine(folder, "nothing"), "--text", "a");
            Assert.Equal(1, missing.Code);
            Assert.StartsWith("error: ", missing.Err);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void DetokenizePrintsTextAndNamesBadIds()
    {
        var ids = TokenizerData.DeepSeekV3.Encode("Grüße, 🦙!");
        Assert.Equal("Grüße, 🦙!", Run("detokenize", "--tokenizer", Tok, "--ids", string.Join(",", ids)).Out);
        Assert.Equal("Grüße, 🦙!", Run("detokenize", "--tokenizer", Tok, "--ids", "[" + string.Join(", ", ids) + "]").Out);
        Assert.Equal("Hi", Run("detokenize", "--tokenizer", Tok, "--ids", "0,23166,1", "--skip-special").Out);
        var notNumber = Run("detokenize", "--tokenizer", Tok, "--ids", "1,two");
        Assert.Equal(2, notNumber.Code);
        Assert.Contains("'two'", notNumber.Err);
        var outOfRange = Run("detokenize", "--tokenizer", Tok, "--ids", "5,200000");
        Assert.Equal(1, outOfRange.Code);
        Assert.Contains("200000", outOfRange.Err);
    }

    [Fact]
    public void ChatTemplateRendersAReferenceConversation()
    {
        string folder = TokenizerData.TempFolder();
        try
        {
            var c = TokenizerData.ChatCases().First(x => x.GetProperty("add_generation_prompt").GetBoolean());
            string file = Path.Combine(folder, "messages.json");
            File.WriteAllText(file, JsonSerializer.Serialize(new { messages = c.GetProperty("messages") }));
            var (code, output, _) = Run("chat-template", "--tokenizer", Tok, "--messages", file, "--generation-prompt");
            Assert.Equal(0, code);
            Assert.Equal(c.GetProperty("rendered").GetString(), output);
            var ids = JsonSerializer.Deserialize<int[]>(Run("chat-template", "--tokenizer", Tok, "--messages", file, "--generation-prompt", "--ids").Out);
            Assert.Equal(c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), ids!);

            File.WriteAllText(file, """[{"content": "no role"}]""");
            var bad = Run("chat-template", "--tokenizer", Tok, "--messages", file);
            Assert.Equal(1, bad.Code);
            Assert.Contains("message 1", bad.Err);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void TrainWritesATokenizerThatLoads()
    {
        string folder = TokenizerData.TempFolder();
        try
        {
            string input = Path.Combine(folder, "text.txt");
            File.WriteAllText(input, string.Join("\n", TokenizerData.EncodeCases().Select(c => c.Text)));
            string output = Path.Combine(folder, "out");
            var (code, stdout, stderr) = Run("tokenizer", "train", "--input", input, "--vocab-size", "400", "--out", output);
            Assert.True(code == 0, stderr);
            Assert.Contains("tokenizer.json", stdout);
            Assert.Contains("merges", stderr);
            var tok = Tokenizer.Load(output);
            Assert.True(tok.VocabSize <= 400);
            foreach (var (text, _) in TokenizerData.EncodeCases())
                Assert.Equal(text, tok.Decode(tok.Encode(text)));
            Assert.Equal(1, Run("tokenizer", "train", "--input", input, "--vocab-size", "10", "--out", output).Code);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }
}
