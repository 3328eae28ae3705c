using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SeekSharp.Server;
using SeekSharp.Server.Http;
using SeekSharp.Tests.Golden;

namespace SeekSharp.Tests.Server;

/// <summary>
/// A real <c>seeksharp serve</c> on 127.0.0.1 with an ephemeral port, serving the golden v3 checkpoint (3 layers, MoE,
/// MTP, 128 positions) with the 500-token tiny tokenizer, and an HttpClient pointed at it.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    public const string ModelId = "golden-v3";

    private TestServer(OpenAiServer server, HttpClient http)
    {
        Server = server;
        Http = http;
    }

    public OpenAiServer Server { get; }
    public HttpClient Http { get; }
    public Uri Address => Server.Address;
    public Uri V1 => new(Server.Address, "v1/");

    public static ServerOptions Options(Func<ServerOptions, ServerOptions>? configure = null)
    {
        var options = new ServerOptions
        {
            ModelDirectory = new GoldenCase("v3_yarn_f32").Dir,
            TokenizerPath = Path.Combine(TestUtil.DataDir, "tiny-tokenizer"),
            ModelId = ModelId,
            Port = 0,
            Threads = 1,
            Parallel = 4,
        };
        return configure is null ? options : configure(options);
    }

    /// <summary>Starts a server; <paramref name="log"/> receives what <c>seeksharp serve</c> writes on stderr.</summary>
    public static async Task<TestServer> StartAsync(Func<ServerOptions, ServerOptions>? configure = null, bool waitUntilReady = true, TextWriter? log = null)
    {
        var server = await OpenAiServer.StartAsync(Options(configure), log);
        if (waitUntilReady) await server.Ready;
        var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        return new TestServer(server, http);
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, CancellationToken ct = default) =>
        Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), ct);

    public Task<HttpResponseMessage> PostAsync(string path, object body, CancellationToken ct = default) =>
        PostAsync(path, JsonSerializer.Serialize(body), ct);

    /// <summary>Sends and reads the response headers only (streams, requests held by a paused scheduler).</summary>
    public Task<HttpResponseMessage> SendStreamingAsync(string path, object body, CancellationToken ct = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        return Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    public static async Task<JsonElement> JsonOf(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>A chat completion's text (greedy unless the body says otherwise).</summary>
    public async Task<(string Text, JsonElement Response)> ChatAsync(object body)
    {
        using var response = await PostAsync("v1/chat/completions", body);
        var json = await JsonOf(response);
        if (!response.IsSuccessStatusCode) throw new Xunit.Sdk.XunitException($"{(int)response.StatusCode}: {json}");
        return (json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!, json);
    }

    /// <summary>The value of a sample in /metrics ("name" or "name{labels}").</summary>
    public async Task<double> MetricAsync(string sample)
    {
        var text = await Http.GetStringAsync("metrics");
        foreach (var line in text.Split('\n'))
            if (line.StartsWith(sample + " ", StringComparison.Ordinal))
                return double.Parse(line[(sample.Length + 1)..], CultureInfo.InvariantCulture);
        throw new Xunit.Sdk.XunitException($"/metrics has no sample {sample}.");
    }

    /// <summary>Polls /metrics until <paramref name="condition"/> holds (a bounded wait, for state the server reaches asynchronously).</summary>
    public async Task WaitForMetricAsync(string sample, Func<double, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        double last = double.NaN;
        while (DateTime.UtcNow < deadline)
        {
            last = await MetricAsync(sample);
            if (condition(last)) return;
            await Task.Delay(10);
        }
        throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}: {sample} is {last}.");
    }

    public void Authorize(string key) => Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>One server shared by the tests of the "Server" collection (they run one after another).</summary>
public sealed class SharedServer : Xunit.IAsyncLifetime
{
    internal TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[Xunit.CollectionDefinition(Name)]
public sealed class ServerCollection : Xunit.ICollectionFixture<SharedServer>
{
    public const string Name = "Server";
}
