using SeekSharp.Tokenization.Jinja;

namespace SeekSharp.Tokenization;

/// <summary>What a chat template was recognised as; rendering is the same for all (the template is evaluated).</summary>
public enum ChatTemplateKind
{
    /// <summary>A template SeekSharp does not recognise; rendered all the same if it stays within the supported Jinja subset.</summary>
    Other,
    /// <summary>DeepSeek-V3's family: "&lt;｜User｜&gt;…&lt;｜Assistant｜&gt;…&lt;｜end▁of▁sentence｜&gt;" (V3, V3-0324, R1, V3.1 variants).</summary>
    DeepSeekV3,
    /// <summary>DeepSeek-V2's family: "User: …\n\nAssistant: …&lt;｜end▁of▁sentence｜&gt;" (V2, V2-Lite, DeepSeek LLM).</summary>
    DeepSeekV2,
}

/// <summary>
/// A conversation formatter built from a tokenizer config's Jinja <c>chat_template</c>, evaluated by SeekSharp's own
/// Jinja subset with Hugging Face's settings (trim_blocks, lstrip_blocks), so that a template renders exactly as
/// transformers' <c>apply_chat_template</c> renders it, quirks included. Variables: <c>messages</c>,
/// <c>add_generation_prompt</c>, <c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c>, <c>tools</c> (none).
/// Immutable and thread-safe.
/// </summary>
/// <remarks>
/// A template that uses a construct outside the subset (say <c>{% include %}</c> or an unknown filter) does not stop
/// the tokenizer from loading: <see cref="IsSupported"/> is false and <see cref="Render"/> throws a
/// <see cref="TokenizerException"/> naming the construct and its line.
/// </remarks>
public sealed class ChatTemplate
{
    private readonly JinjaTemplate? _compiled;
    private readonly TokenizerException? _error;

    /// <summary>Parses <paramref name="source"/>; never throws (see <see cref="IsSupported"/>).</summary>
    public ChatTemplate(string source, string? bosToken, string? eosToken, string? padToken = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        Source = source;
        BosToken = bosToken;
        EosToken = eosToken;
        PadToken = padToken;
        Kind = Recognise(source);
        try
        {
            _compiled = JinjaTemplate.Parse(source);
        }
        catch (TokenizerException e)
        {
            _error = e;
        }
    }

    /// <summary>DeepSeek-V3's template with its BOS and EOS strings.</summary>
    public static ChatTemplate DeepSeekV3 { get; } = new(BuiltInChatTemplates.DeepSeekV3, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");

    /// <summary>DeepSeek-V2's template ("User: …\n\nAssistant:") with the same BOS and EOS strings.</summary>
    public static ChatTemplate DeepSeekV2 { get; } = new(BuiltInChatTemplates.DeepSeekV2, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");

    /// <summary>The Jinja source, as the config holds it.</summary>
    public string Source { get; }

    public ChatTemplateKind Kind { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    public string? PadToken { get; }

    /// <summary>Whether the template parsed within SeekSharp's Jinja subset.</summary>
    public bool IsSupported => _error is null;

    /// <summary>Why <see cref="IsSupported"/> is false, or null.</summary>
    public string? UnsupportedReason => _error?.Message;

    /// <summary>
    /// The conversation as the model sees it, BOS included where the template writes it (DeepSeek's do), so encode
    /// the result without adding another BOS. With <paramref name="addGenerationPrompt"/>, it ends with the
    /// assistant's opening marker, ready for the model's reply.
    /// </summary>
    /// <exception cref="TokenizerException">The template is unsupported, or failed while rendering these messages.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (_compiled is null)
            throw new TokenizerException($"the chat template cannot be used: {_error!.Message}", _error);
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = messages.Select(ToJinja).Cast<object?>().ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = null,
            ["documents"] = null,
        };
        if (BosToken is not null)
            variables["bos_token"] = BosToken;
        if (EosToken is not null)
            variables["eos_token"] = EosToken;
        if (PadToken is not null)
            variables["pad_token"] = PadToken;
        return _compiled.Render(variables);
    }

    private static OrderedDictionary<string, object?> ToJinja(ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var d = new OrderedDictionary<string, object?> { ["role"] = message.Role, ["content"] = message.Content };
        if (message.ToolCalls is not null)
        {
            d["tool_calls"] = message.ToolCalls.Select(call =>
            {
                var c = new OrderedDictionary<string, object?>();
                if (call.Id is not null)
                    c["id"] = call.Id;
                c["type"] = call.Type;
                c["function"] = new OrderedDictionary<string, object?> { ["name"] = call.Name, ["arguments"] = call.Arguments };
                return (object?)c;
            }).ToList();
        }
        return d;
    }

    private static ChatTemplateKind Recognise(string source)
    {
        if (source.Contains("<｜User｜>", StringComparison.Ordinal) && source.Contains("<｜Assistant｜>", StringComparison.Ordinal))
            return ChatTemplateKind.DeepSeekV3;
        if (source.Contains("'User: '", StringComparison.Ordinal) && source.Contains("'Assistant:", StringComparison.Ordinal))
            return ChatTemplateKind.DeepSeekV2;
        return ChatTemplateKind.Other;
    }
}
