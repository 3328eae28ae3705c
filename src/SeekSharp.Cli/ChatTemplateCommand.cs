using System.CommandLine;
using System.Text.Json;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp chat-template --tokenizer PATH --messages FILE.json [--generation-prompt] [--ids]</c>: prints the
/// conversation as the tokenizer config's chat template renders it (or its ids). The file holds OpenAI-style
/// messages, as an array or as {"messages": [...]}: role, content, and optionally tool_calls.
/// </summary>
internal static class ChatTemplateCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var tokenizer = TokenizerOption.Create();
        var messages = new Option<FileInfo>("--messages") { Description = "JSON file with the messages.", Required = true };
        var generationPrompt = new Option<bool>("--generation-prompt") { Description = "End with the assistant's opening, ready for a reply." };
        var ids = new Option<bool>("--ids") { Description = "Print the ids of the rendered text (BOS from the template, none added) as JSON." };
        var command = new Command("chat-template", "Render a conversation with the tokenizer's chat template.") { tokenizer, messages, generationPrompt, ids };
        command.SetAction(parse => CliRunner.Guard(stderr, () =>
        {
            var conversation = ReadMessages(parse.GetValue(messages)!);
            var tok = Tokenizer.Load(parse.GetValue(tokenizer)!);
            var template = tok.ChatTemplate ?? throw new TokenizerException("the tokenizer has no chat template (tokenizer_config.json has no chat_template)");
            string rendered = template.Render(conversation, parse.GetValue(generationPrompt));
            if (parse.GetValue(ids))
                stdout.WriteLine("[" + string.Join(",", tok.Encode(rendered)) + "]");
            else
                stdout.Write(rendered);
            return CliRunner.Ok;
        }));
        return command;
    }

    internal static List<ChatMessage> ReadMessages(FileInfo file)
    {
        if (!file.Exists)
            throw new InvalidInputException($"messages file not found: {file.FullName}");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(file.FullName));
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{file.Name} is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("messages", out var inner))
                root = inner;
            if (root.ValueKind != JsonValueKind.Array)
                throw new InvalidInputException($"{file.Name}: expected an array of messages or {{\"messages\": [...]}}");
            return root.EnumerateArray().Select((m, i) => ToMessage(m, $"{file.Name}: message {i + 1}")).ToList();
        }
    }

    private static ChatMessage ToMessage(JsonElement m, string where)
    {
        if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
            throw new InvalidInputException($"{where} has no string 'role'");
        string? content = null;
        if (m.TryGetProperty("content", out var c))
            content = c.ValueKind switch
            {
                JsonValueKind.String => c.GetString(),
                JsonValueKind.Null => null,
                _ => throw new InvalidInputException($"{where}: 'content' must be a string or null"),
            };
        List<ChatToolCall>? calls = null;
        if (m.TryGetProperty("tool_calls", out var tc) && tc.ValueKind == JsonValueKind.Array)
            calls = tc.EnumerateArray().Select((call, j) => ToToolCall(call, $"{where}, tool call {j + 1}")).ToList();
        return new ChatMessage(role.GetString()!, content, calls);
    }

    private static ChatToolCall ToToolCall(JsonElement call, string where)
    {
        if (!call.TryGetProperty("function", out var f) || !f.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            throw new InvalidInputException($"{where} has no function.name");
        // Arguments are JSON text in OpenAI's format; an object is accepted and written compactly.
        string arguments = f.TryGetProperty("arguments", out var a)
            ? a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetRawText()
            : "{}";
        string type = call.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "function";
        string? id = call.TryGetProperty("id", out var idValue) && idValue.ValueKind == JsonValueKind.String ? idValue.GetString() : null;
        return new ChatToolCall(name.GetString()!, arguments, type, id);
    }
}
