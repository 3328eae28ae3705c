using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using Xunit;
using ChatMessage = OpenAI.Chat.ChatMessage;

namespace SeekSharp.Tests.Server;

/// <summary>The official OpenAI .NET SDK and Microsoft.Extensions.AI's OpenAI client, pointed at the server, work unchanged.</summary>
[Collection(ServerCollection.Name)]
public class OpenAiClientTests(SharedServer shared)
{
    private TestServer Server => shared.Server;

    private ChatClient Sdk() => new(TestServer.ModelId, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = Server.V1 });

    private static readonly ChatMessage[] Conversation =
        [new SystemChatMessage("You are terse."), new UserChatMessage("Hello there"), new AssistantChatMessage("Hi."), new UserChatMessage("What is MLA?")];

    private static object RawBody(int maxTokens, bool stream = false) => new
    {
        model = TestServer.ModelId,
        messages = new object[]
        {
            new { role = "system", content = "You are terse." }, new { role = "user", content = "Hello there" },
            new { role = "assistant", content = "Hi." }, new { role = "user", content = "What is MLA?" },
        },
        max_tokens = maxTokens,
        temperature = 0,
        stream,
    };

    [Fact]
    public async Task OpenAiSdkCompletesAndStreamsTheSameGreedyText()
    {
        var client = Sdk();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 };
        ChatCompletion completion = await client.CompleteChatAsync(Conversation, options);
        var (raw, rawJson) = await Server.ChatAsync(RawBody(10));
        Assert.Equal(raw, completion.Content[0].Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(10, completion.Usage.OutputTokenCount);
        Assert.Equal(rawJson.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), completion.Usage.InputTokenCount);
        Assert.Equal(TestServer.ModelId, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id);

        var text = new System.Text.StringBuilder();
        OpenAI.Chat.ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        var ids = new HashSet<string>();
        await foreach (var update in client.CompleteChatStreamingAsync(Conversation, options))
        {
            ids.Add(update.CompletionId);
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(raw, text.ToString());
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, finish);
        Assert.Single(ids);
        if (usage is not null) Assert.Equal(10, usage.OutputTokenCount);   // the SDK asks for usage in streams
    }

    [Fact]
    public async Task OpenAiSdkReportsCachedTokensAndLogprobs()
    {
        var client = Sdk();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 4, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        await client.CompleteChatAsync(Conversation, options);
        ChatCompletion again = await client.CompleteChatAsync(Conversation, options);
        Assert.True(again.Usage.InputTokenDetails.CachedTokenCount > 0);
        Assert.Equal(4, again.ContentTokenLogProbabilities.Count);
        foreach (var t in again.ContentTokenLogProbabilities)
        {
            Assert.True(t.LogProbability <= 0);
            Assert.Equal(3, t.TopLogProbabilities.Count);
            Assert.Equal(t.Token, t.TopLogProbabilities[0].Token);   // greedy picks the most likely
        }
        Assert.Equal(again.Content[0].Text, string.Concat(again.ContentTokenLogProbabilities.Select(t => t.Token)));
    }

    [Fact]
    public async Task OpenAiSdkListsTheModel()
    {
        var models = new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = Server.V1 });
        var list = (await models.GetModelsAsync()).Value;
        Assert.Equal(TestServer.ModelId, Assert.Single(list).Id);
        Assert.Equal(TestServer.ModelId, (await models.GetModelAsync(TestServer.ModelId)).Value.Id);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("no-such-model"));
        Assert.Equal(404, missing.Status);
    }

    [Fact]
    public async Task MicrosoftExtensionsAiClientAsksAndStreams()
    {
        using IChatClient chat = Sdk().AsIChatClient();
        Microsoft.Extensions.AI.ChatMessage[] messages =
        [
            new(ChatRole.System, "You are terse."), new(ChatRole.User, "Hello there"), new(ChatRole.Assistant, "Hi."), new(ChatRole.User, "What is MLA?"),
        ];
        var options = new ChatOptions { MaxOutputTokens = 10, Temperature = 0 };
        var response = await chat.GetResponseAsync(messages, options);
        var (raw, _) = await Server.ChatAsync(RawBody(10));
        Assert.Equal(raw, response.Text);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(10, response.Usage!.OutputTokenCount);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in chat.GetStreamingResponseAsync(messages, options)) updates.Add(u);
        Assert.Equal(raw, string.Concat(updates.Select(u => u.Text)));
        Assert.Contains(updates, u => u.FinishReason == Microsoft.Extensions.AI.ChatFinishReason.Length);
    }

    [Fact]
    public async Task SdkErrorsCarryTheStatus()
    {
        var client = new ChatClient("no-such-model", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = Server.V1 });
        var e = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, e.Status);
        Assert.Contains("no-such-model", e.Message);
    }
}
