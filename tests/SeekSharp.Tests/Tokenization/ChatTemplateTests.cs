using System.Text.Json;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class ChatTemplateTests
{
    private static ChatMessage ToMessage(JsonElement m)
    {
        List<ChatToolCall>? calls = null;
        if (m.TryGetProperty("tool_calls", out var tc) && tc.ValueKind == JsonValueKind.Array)
            calls = tc.EnumerateArray().Select(c => new ChatToolCall(
                c.GetProperty("function").GetProperty("name").GetString()!,
                c.GetProperty("function").GetProperty("arguments").GetString()!,
                c.GetProperty("type").GetString()!)).ToList();
        string? content = m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        return new ChatMessage(m.GetProperty("role").GetString()!, content, calls);
    }

    [Fact]
    public void EveryReferenceConversationRendersAndEncodesExactly()
    {
        var tok = TokenizerData.DeepSeekV3;
        Assert.Equal(ChatTemplateKind.DeepSeekV3, tok.ChatTemplate!.Kind);
        int count = 0;
        foreach (var c in TokenizerData.ChatCases())
        {
            var messages = c.GetProperty("messages").EnumerateArray().Select(ToMessage).ToList();
            bool gen = c.GetProperty("add_generation_prompt").GetBoolean();
            Assert.Equal(c.GetProperty("rendered").GetString(), tok.ChatTemplate.Render(messages, gen));
            Assert.Equal(c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), tok.EncodeChat(messages, gen));
            count++;
        }
        Assert.Equal(8, count);
    }

    [Fact]
    public void EveryJinja2RenderingIsReproduced()
    {
        // Templates rendered by Jinja2 itself, configured as transformers configures it (see the file's "source").
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TokenizerData.Folder, "template_cases.json")));
        var failures = new List<string>();
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            count++;
            var template = new ChatTemplate(c.GetProperty("template").GetString()!, c.GetProperty("bos_token").GetString(), c.GetProperty("eos_token").GetString());
            var messages = c.GetProperty("messages").EnumerateArray().Select(ToMessage).ToList();
            string expected = c.GetProperty("rendered").GetString()!;
            string name = $"{c.GetProperty("template_name").GetString()}/{c.GetProperty("conversation").GetString()}/{c.GetProperty("add_generation_prompt").GetBoolean()}";
            try
            {
                string actual = template.Render(messages, c.GetProperty("add_generation_prompt").GetBoolean());
                if (actual != expected)
                    failures.Add($"{name}\n  want {JsonSerializer.Serialize(expected)}\n  got  {JsonSerializer.Serialize(actual)}");
            }
            catch (TokenizerException e)
            {
                failures.Add($"{name}: {e.Message}");
            }
        }
        Assert.Equal(34, count);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void TheBuiltInDeepSeekV3TemplateIsTheConfigsVerbatim()
    {
        Assert.Equal(TokenizerData.DeepSeekV3.ChatTemplate!.Source, ChatTemplate.DeepSeekV3.Source);
    }

    [Fact]
    public void DeepSeekV3RendersBosOnceAndTheDocumentedExample()
    {
        var messages = new[] { ChatMessage.System("You are a helpful assistant."), ChatMessage.User("Hi"), ChatMessage.Assistant("Hello!"), ChatMessage.User("How are you?") };
        string text = ChatTemplate.DeepSeekV3.Render(messages, addGenerationPrompt: true);
        Assert.Equal("<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>Hi<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>How are you?<｜Assistant｜>", text);
        var ids = TokenizerData.DeepSeekV3.EncodeChat(messages, addGenerationPrompt: true);
        Assert.Equal(1, ids.Count(id => id == 0));
        Assert.Equal(0, ids[0]);
    }

    [Fact]
    public void DeepSeekV2FormatIsRecognisedAndRendered()
    {
        var template = ChatTemplate.DeepSeekV2;
        Assert.Equal(ChatTemplateKind.DeepSeekV2, template.Kind);
        var messages = new[] { ChatMessage.System("Be brief."), ChatMessage.User("Hi"), ChatMessage.Assistant("Hello"), ChatMessage.User("Bye") };
        Assert.Equal("<｜begin▁of▁sentence｜>Be brief.\n\nUser: Hi\n\nAssistant: Hello<｜end▁of▁sentence｜>User: Bye\n\nAssistant:",
            template.Render(messages, addGenerationPrompt: true));
        Assert.Equal("<｜begin▁of▁sentence｜>User: Bye\n\n", template.Render([ChatMessage.User("Bye")], addGenerationPrompt: false));
    }

    [Theory]
    [InlineData("{% include 'other.jinja' %}", "include")]
    [InlineData("{{ messages | frobnicate }}", "frobnicate")]
    [InlineData("{% for m in messages %}", "endfor")]
    [InlineData("{{ 'unterminated }}", "never closed")]
    [InlineData("hello {{ }}", "expected a value")]
    public void UnsupportedOrMalformedTemplatesGiveAClearError(string source, string mentioned)
    {
        var template = new ChatTemplate(source, "<s>", "</s>");
        var e = Assert.Throws<TokenizerException>(() => template.Render([ChatMessage.User("x")], false));
        Assert.Contains(mentioned, e.Message);
        if (source.Contains("include") || !source.Contains("frobnicate"))
            Assert.False(template.IsSupported);
    }

    [Fact]
    public void RenderingErrorsNameTheProblemAndLine()
    {
        var template = new ChatTemplate("line one\n{{ 'a' + message['missing'] }}", null, null);
        var e = Assert.Throws<TokenizerException>(() => template.Render([ChatMessage.User("x")], false));
        Assert.Contains("undefined", e.Message);
        var raising = new ChatTemplate("{% if messages | length == 0 %}{{ raise_exception('Conversation is empty') }}{% endif %}", null, null);
        var raised = Assert.Throws<TokenizerException>(() => raising.Render([], false));
        Assert.Contains("Conversation is empty", raised.Message);
    }

    [Fact]
    public void ATokenizerWithoutTemplateSaysSoOnEncodeChat()
    {
        var folder = TokenizerData.TempFolder();
        try
        {
            File.Copy(Path.Combine(TokenizerData.DeepSeekV3Folder, "tokenizer.json"), Path.Combine(folder, "tokenizer.json"));
            var tok = Tokenizer.Load(folder);
            Assert.Null(tok.ChatTemplate);
            Assert.Null(tok.BosId);
            var e = Assert.Throws<TokenizerException>(() => tok.EncodeChat([ChatMessage.User("hi")], true));
            Assert.Contains("chat template", e.Message);
            Assert.Throws<TokenizerException>(() => tok.Encode("x", addBos: true));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }
}
