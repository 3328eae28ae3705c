using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using SeekSharp.Inference;
using SeekSharp.Tokenization;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using TemplateMessage = SeekSharp.Tokenization.ChatMessage;

namespace SeekSharp.Chat;

/// <summary>
/// <see cref="IChatClient"/> over a SeekSharp model: the conversation is rendered with the model's chat template, the
/// session's cache keeps the shared prefix between calls, and ChatOptions (temperature, top-p, top-k, seed, max output
/// tokens, stop sequences, penalties, instructions) map onto <see cref="GenerationOptions"/> without being modified.
/// Calls are serialised (one model, one cache); cancellation is checked at every token.
/// </summary>
internal sealed class SeekSharpChatClient : IChatClient
{
    private readonly Generator _generator;
    private readonly GenerationOptions _defaults;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ChatClientMetadata _metadata;
    private readonly string _modelId;

    public SeekSharpChatClient(Generator generator, GenerationOptions defaults, string modelId)
    {
        if (generator.Tokenizer.ChatTemplate is null) throw new InvalidInputException("The model's tokenizer has no chat template.");
        _generator = generator;
        _defaults = defaults;
        _modelId = modelId;
        _metadata = new ChatClientMetadata("seeksharp", null, modelId);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        UsageDetails? usage = null;
        string? responseId = null;
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            text.Append(update.Text);
            finish ??= update.FinishReason;
            responseId ??= update.ResponseId;
            foreach (var c in update.Contents) if (c is UsageContent u) usage = u.Details;
        }
        return new ChatResponse(new AiChatMessage(ChatRole.Assistant, text.ToString()))
        {
            FinishReason = finish,
            Usage = usage,
            ModelId = _modelId,
            ResponseId = responseId,
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var generation = Map(options);
        var prompt = Render(messages, options);
        var channel = Channel.CreateBounded<ChatResponseUpdate>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        string responseId = Guid.NewGuid().ToString("N");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var producer = Task.Run(async () =>
        {
            try
            {
                var stats = new GenerationStats();
                foreach (var piece in _generator.Generate(prompt, generation, stats, cancellationToken))
                    await channel.Writer.WriteAsync(Update(piece, responseId), cancellationToken).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                var last = Update(null, responseId);
                last.FinishReason = stats.FinishReason switch
                {
                    FinishReason.Length or FinishReason.ContextFull => ChatFinishReason.Length,
                    _ => ChatFinishReason.Stop,
                };
                last.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = stats.PromptTokens,
                    OutputTokenCount = stats.GeneratedTokens,
                    TotalTokenCount = stats.PromptTokens + stats.GeneratedTokens,
                    CachedInputTokenCount = stats.ReusedPromptTokens,
                }));
                await channel.Writer.WriteAsync(last, cancellationToken).ConfigureAwait(false);
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e);
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var update in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();   // buffered updates are not delivered after a cancel
                yield return update;
            }
        }
        finally
        {
            try { await producer.ConfigureAwait(false); } catch { /* surfaced through the channel */ }
            _gate.Release();
        }
    }

    private ChatResponseUpdate Update(string? text, string responseId) => new(ChatRole.Assistant, text)
    {
        ResponseId = responseId,
        ModelId = _modelId,
        CreatedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>ChatOptions → GenerationOptions, starting from this client's defaults; <paramref name="options"/> is only read.</summary>
    private GenerationOptions Map(ChatOptions? options)
    {
        if (options is null) return _defaults;
        var s = _defaults.Sampling;
        try
        {
            s = s with
            {
                Temperature = options.Temperature ?? s.Temperature,
                TopP = options.TopP ?? s.TopP,
                TopK = options.TopK ?? s.TopK,
                PresencePenalty = options.PresencePenalty ?? s.PresencePenalty,
                FrequencyPenalty = options.FrequencyPenalty ?? s.FrequencyPenalty,
                Seed = options.Seed is long seed ? unchecked((ulong)seed) : s.Seed,
            };
        }
        catch (InvalidInputException e)
        {
            throw new ArgumentException($"Invalid ChatOptions: {e.Message}", nameof(options), e);
        }
        return _defaults with
        {
            Sampling = s,
            MaxTokens = options.MaxOutputTokens ?? _defaults.MaxTokens,
            StopStrings = options.StopSequences is { Count: > 0 } stops ? _defaults.StopStrings.Concat(stops).ToArray() : _defaults.StopStrings,
        };
    }

    private int[] Render(IEnumerable<AiChatMessage> messages, ChatOptions? options)
    {
        var list = new List<TemplateMessage>();
        if (options?.Instructions is { Length: > 0 } instructions) list.Add(TemplateMessage.System(instructions));
        foreach (var m in messages)
        {
            string role = m.Role == ChatRole.System ? "system" : m.Role == ChatRole.Assistant ? "assistant" : m.Role == ChatRole.Tool ? "tool" : "user";
            list.Add(new TemplateMessage(role, m.Text));
        }
        if (list.Count == 0) throw new ArgumentException("No messages to respond to.", nameof(messages));
        return _generator.Tokenizer.EncodeChat(list, addGenerationPrompt: true);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType == typeof(Generator)) return _generator;
        return null;
    }

    public void Dispose() => _gate.Dispose();
}
