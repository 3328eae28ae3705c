using Microsoft.Extensions.AI;
using SeekSharp.Chat;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Golden;
using SeekSharp.Tests.Inference;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Chat;

/// <summary>The IChatClient contract over the golden model and the tiny tokenizer.</summary>
public class ChatClientTests
{
    private static WorkerPool Pool => TinyChatModel.Pool;
    private static DeepSeekModel Model => TinyChatModel.Model;
    private static Tokenizer Tok => TinyChatModel.Tokenizer;

    private static IChatClient Client() => new Generator(new InferenceSession(Model, 128, Pool), Tok)
        .AsChatClient(new GenerationOptions { Sampling = SamplingOptions.Greedy }, "golden-v3");

    private static readonly Microsoft.Extensions.AI.ChatMessage[] Conversation =
        [new(ChatRole.System, "You are terse."), new(ChatRole.User, "Hello there"), new(ChatRole.Assistant, "Hi."), new(ChatRole.User, "What is MLA?")];

    [Fact]
    public async Task ResponseMatchesTheStreamAndReportsUsageAndFinishReason()
    {
        using var client = Client();
        var options = new ChatOptions { MaxOutputTokens = 12, Temperature = 0 };
        var response = await client.GetResponseAsync(Conversation, options);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(Conversation, options)) updates.Add(u);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(12, response.Usage!.OutputTokenCount);
        int promptTokens = Tok.EncodeChat([TemplateMessage("system", "You are terse."), TemplateMessage("user", "Hello there"), TemplateMessage("assistant", "Hi."), TemplateMessage("user", "What is MLA?")], true).Length;
        Assert.Equal(promptTokens, response.Usage.InputTokenCount);
        Assert.Equal(promptTokens + 12, response.Usage.TotalTokenCount);
        Assert.Equal(ChatFinishReason.Length, updates.Last().FinishReason);
        Assert.Equal("golden-v3", response.ModelId);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
    }

    private static SeekSharp.Tokenization.ChatMessage TemplateMessage(string role, string text) => new(role, text);

    [Fact]
    public async Task OptionsAreHonouredAndNeverMutated()
    {
        using var client = Client();
        var options = new ChatOptions { MaxOutputTokens = 20, Temperature = 0.9f, TopP = 0.8f, TopK = 40, Seed = 1234, StopSequences = ["zzzz"] };
        var snapshot = System.Text.Json.JsonSerializer.Serialize(options);
        var a = await client.GetResponseAsync(Conversation, options);
        var b = await client.GetResponseAsync(Conversation, options);
        Assert.Equal(snapshot, System.Text.Json.JsonSerializer.Serialize(options));
        Assert.Equal(a.Text, b.Text);                           // same seed, same text
        var c = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 20, Temperature = 0.9f, TopP = 0.8f, TopK = 40, Seed = 99 });
        Assert.NotEqual(a.Text, c.Text);
    }

    [Fact]
    public async Task StopSequencesEndTheReply()
    {
        using var client = Client();
        var full = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 16 });
        var stop = full.Text.Substring(full.Text.Length / 2, 2);
        var stopped = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 16, StopSequences = [stop] });
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
    }

    [Fact]
    public async Task CancellationStopsAtTheNextToken()
    {
        using var client = Client();
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var u in client.GetStreamingResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 200 }, cts.Token))
                if (++seen == 2) cts.Cancel();
        });
        Assert.True(seen < 10);
        // The client is usable again afterwards.
        var after = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 3 });
        Assert.Equal(3, after.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task MetadataAndBadOptions()
    {
        using var client = Client();
        var meta = client.GetService<ChatClientMetadata>();
        Assert.Equal("seeksharp", meta!.ProviderName);
        Assert.Equal("golden-v3", meta.DefaultModelId);
        Assert.Null(client.GetService<ChatClientMetadata>("key"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(Conversation, new ChatOptions { Temperature = -1 }));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(Array.Empty<Microsoft.Extensions.AI.ChatMessage>()));
    }
}
