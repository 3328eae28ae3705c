namespace SeekSharp.Tokenization;

/// <summary>
/// One turn of a conversation, as chat templates see it: <c>message['role']</c>, <c>message['content']</c> (null for
/// an assistant turn that only calls tools) and <c>message['tool_calls']</c>.
/// </summary>
public sealed record ChatMessage(string Role, string? Content, IReadOnlyList<ChatToolCall>? ToolCalls = null)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
    public static ChatMessage Tool(string content) => new("tool", content);
}

/// <summary>
/// A function call made by the assistant, as OpenAI-style messages carry it:
/// <c>{"type": "function", "function": {"name": ..., "arguments": "&lt;JSON text&gt;"}}</c>.
/// </summary>
public sealed record ChatToolCall(string Name, string Arguments, string Type = "function", string? Id = null);
