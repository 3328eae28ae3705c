using SeekSharp.Tokenization;

namespace SeekSharp.Training.Data;

/// <summary>
/// One conversation as training sees it: the ids of the whole conversation rendered with the model's chat template, and
/// which of them the loss scores. Only the assistant's turns are scored: the tokens of each assistant message as the
/// template writes it (its content and the end-of-sentence marker that closes it), never the system prompt, the user's
/// words or the template's role markers.
/// </summary>
public sealed class ChatExample
{
    /// <summary>[T] token ids of the rendered conversation (BOS from the template).</summary>
    public required int[] Ids { get; init; }

    /// <summary>[T] 1 where the token is a target of the loss (an assistant token), 0 elsewhere.</summary>
    public required byte[] TargetMask { get; init; }

    /// <summary>
    /// Renders <paramref name="messages"/> and marks the assistant tokens. For the assistant message at index i, the
    /// tokens between the rendering of messages[..i] with the generation prompt (which ends with the assistant's opening)
    /// and the rendering of messages[..(i+1)] are that reply; every partial rendering must encode to a prefix of the
    /// whole conversation's ids, which DeepSeek's templates do (a reply always begins and ends at a special token).
    /// </summary>
    /// <exception cref="InvalidInputException">No assistant message, or a template that does not render turn by turn.</exception>
    public static ChatExample Render(Tokenizer tokenizer, IReadOnlyList<ChatMessage> messages)
    {
        var template = tokenizer.ChatTemplate ?? throw new InvalidInputException("the tokenizer has no chat template (tokenizer_config.json has no chat_template), so chat data cannot be rendered.");
        if (!messages.Any(m => m.Role == "assistant")) throw new InvalidInputException("the conversation has no assistant message, so it has nothing to train on.");
        int[] ids = tokenizer.Encode(template.Render(messages, addGenerationPrompt: false));
        var mask = new byte[ids.Length];
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != "assistant") continue;
            int start = PrefixLength(tokenizer, template, messages, i, generationPrompt: true, ids);
            int end = PrefixLength(tokenizer, template, messages, i + 1, generationPrompt: false, ids);
            for (int t = start; t < end; t++) mask[t] = 1;
        }
        return new ChatExample { Ids = ids, TargetMask = mask };
    }

    private static int PrefixLength(Tokenizer tokenizer, ChatTemplate template, IReadOnlyList<ChatMessage> messages, int count, bool generationPrompt, int[] whole)
    {
        var part = tokenizer.Encode(template.Render(messages.Take(count).ToList(), generationPrompt));
        if (part.Length > whole.Length || !part.AsSpan().SequenceEqual(whole.AsSpan(0, part.Length)))
            throw new InvalidInputException($"the chat template does not render this conversation turn by turn (the first {count} message(s) are not a prefix of the whole), so the assistant tokens cannot be found.");
        return part.Length;
    }
}
