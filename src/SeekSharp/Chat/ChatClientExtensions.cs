using Microsoft.Extensions.AI;
using SeekSharp.Inference;

namespace SeekSharp.Chat;

/// <summary>Plugs SeekSharp into Microsoft.Extensions.AI.</summary>
public static class ChatClientExtensions
{
    /// <summary>An <see cref="IChatClient"/> over this generator's model, session and tokenizer.</summary>
    /// <param name="generator">The model session to chat with; the client serialises its use.</param>
    /// <param name="defaults">Generation settings used where a call's ChatOptions says nothing.</param>
    /// <param name="modelId">The id reported in responses and metadata.</param>
    public static IChatClient AsChatClient(this Generator generator, GenerationOptions? defaults = null, string modelId = "seeksharp") =>
        new SeekSharpChatClient(generator, defaults ?? new GenerationOptions(), modelId);
}
