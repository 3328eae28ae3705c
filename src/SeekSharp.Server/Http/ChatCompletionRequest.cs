using System.Text;
using System.Text.Json;
using SeekSharp.Tokenization;

namespace SeekSharp.Server.Http;

/// <summary>
/// A /v1/chat/completions body, read and checked: the messages (system, developer, user and assistant; content as a
/// string or as text parts), the shared generation parameters, and logprobs/top_logprobs. Features this server does not
/// have (tools, logit_bias, images) are a 400 naming the parameter, never ignored.
/// </summary>
internal sealed record ChatCompletionRequest(IReadOnlyList<ChatMessage> Messages, SamplingRequest Generation, int? TopLogprobs)
{
    public static ChatCompletionRequest Parse(JsonElement root, ServedModel model)
    {
        ModelField.Check(root, model);
        if (!JsonFields.TryGet(root, "messages", out var messages)) throw JsonFields.Missing("messages");
        if (messages.ValueKind != JsonValueKind.Array) throw JsonFields.WrongType("messages", "an array", messages);
        if (messages.GetArrayLength() == 0)
            throw ApiError.BadRequest("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array");
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var m in messages.EnumerateArray()) list.Add(Message(m, i++));

        RejectUnsupported(root);
        var generation = SamplingRequest.Parse(root, model);
        bool logprobs = JsonFields.Bool(root, "logprobs") ?? false;
        long? top = JsonFields.Integer(root, "top_logprobs", 0, Scheduling.LogprobCalculator.MaxTop);
        if (top is not null && !logprobs)
            throw ApiError.BadRequest("Invalid 'top_logprobs': 'logprobs' must be true when 'top_logprobs' is given.", "top_logprobs", "invalid_value");
        return new ChatCompletionRequest(list, generation, logprobs ? (int)(top ?? 0) : null);
    }

    private static ChatMessage Message(JsonElement m, int i)
    {
        string at = $"messages[{i}]";
        if (m.ValueKind != JsonValueKind.Object) throw JsonFields.WrongType(at, "an object", m);
        var role = JsonFields.String(m, "role", $"{at}.role") ?? throw JsonFields.Missing($"{at}.role");
        role = role switch
        {
            "system" or "developer" => "system",
            "user" or "assistant" => role,
            "tool" or "function" => throw JsonFields.Unsupported($"{at}.role", $"role '{role}' (tool calls are not implemented)."),
            _ => throw ApiError.BadRequest($"Invalid value for '{at}.role': '{role}'. Supported values are: 'system', 'developer', 'user' and 'assistant'.", $"{at}.role", "invalid_value"),
        };
        if (JsonFields.TryGet(m, "tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
            throw JsonFields.Unsupported($"{at}.tool_calls", "tool calls are not implemented.");
        if (!JsonFields.TryGet(m, "content", out var content))
        {
            if (role == "assistant") return new ChatMessage(role, "");
            throw JsonFields.Missing($"{at}.content");
        }
        return new ChatMessage(role, Content(content, $"{at}.content"));
    }

    /// <summary>A string, or an array of parts of which only {"type": "text", "text": ...} are supported (joined).</summary>
    private static string Content(JsonElement content, string at)
    {
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw JsonFields.WrongType(at, "a string or an array of content parts", content);
        var text = new StringBuilder();
        int j = 0;
        foreach (var part in content.EnumerateArray())
        {
            string p = $"{at}[{j++}]";
            if (part.ValueKind != JsonValueKind.Object) throw JsonFields.WrongType(p, "an object", part);
            var type = JsonFields.String(part, "type", $"{p}.type") ?? throw JsonFields.Missing($"{p}.type");
            if (type != "text") throw JsonFields.Unsupported($"{p}.type", $"content of type '{type}' (this model reads text only).");
            text.Append(JsonFields.String(part, "text", $"{p}.text") ?? throw JsonFields.Missing($"{p}.text"));
        }
        return text.ToString();
    }

    private static void RejectUnsupported(JsonElement root)
    {
        if (JsonFields.TryGet(root, "tools", out var tools) && (tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() > 0))
            throw JsonFields.Unsupported("tools", "tool calls are not implemented.");
        if (JsonFields.TryGet(root, "functions", out var functions) && (functions.ValueKind != JsonValueKind.Array || functions.GetArrayLength() > 0))
            throw JsonFields.Unsupported("functions", "function calls are not implemented.");
        if (JsonFields.TryGet(root, "tool_choice", out var choice) && !(choice.ValueKind == JsonValueKind.String && choice.GetString() is "none" or "auto"))
            throw JsonFields.Unsupported("tool_choice", "tool calls are not implemented.");
        if (JsonFields.TryGet(root, "logit_bias", out var bias) && (bias.ValueKind != JsonValueKind.Object || bias.EnumerateObject().Any()))
            throw JsonFields.Unsupported("logit_bias", "logit biases are not implemented.");
        if (JsonFields.TryGet(root, "audio", out _)) throw JsonFields.Unsupported("audio", "this model produces text only.");
    }
}
