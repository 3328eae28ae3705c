using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace SeekSharp.Tests.Server;

/// <summary>
/// Drives a running server with a mix of clients for a fixed time (issue 13 point 3, docs/reliability.md): streaming
/// and non-streaming chat completions and text completions whose replies must equal the same request sent alone
/// (temperature 0), /tokenize, clients that disconnect mid-stream, slow readers, oversized and malformed bodies,
/// missing and wrong API keys, and requests that run past the request timeout (on a second server whose scheduler is
/// held, so that every one of them times out). Each request ends in one <see cref="Outcome"/>: the answer its kind
/// must get, a deliberate disconnect, or an unexpected result with what was wrong (a 500, a corrupted reply, a lost
/// request, a malformed stream or error).
/// </summary>
internal sealed class SoakDriver(TestServer server, TestServer timeoutServer, int maxTokens)
{
    public const string Chat = "chat", ChatStream = "chat stream", Completion = "completion", Tokenize = "tokenize",
        Disconnect = "disconnect mid-stream", SlowReader = "slow reader", Oversized = "oversized body", Malformed = "malformed body",
        MissingKey = "missing key", WrongKey = "wrong key", Timeout = "timeout";

    /// <summary>Kinds and their weights in the mix.</summary>
    public static readonly (string Kind, int Weight)[] Mix =
    [
        (Chat, 6), (ChatStream, 6), (Completion, 3), (Tokenize, 2), (Disconnect, 3), (SlowReader, 2),
        (Oversized, 1), (Malformed, 2), (MissingKey, 1), (WrongKey, 1), (Timeout, 1),
    ];

    private static readonly string[] Topics = ["experts", "routing", "attention", "caches", "tokens", "layers", "latents", "batches"];

    private static readonly string[] MalformedBodies =
    [
        "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}",
        "{\"messages\": \"Hi\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": -3}",
        "{\"messages\": [{\"role\": \"wizard\", \"content\": \"Hi\"}]}",
        "[1, 2, 3]",
        "",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"temperature\": \"hot\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}",
        "{\"prompt\": [1, 2, 99999999]}",
    ];

    /// <summary>One request's end: its kind, whether it got what its kind must get, its latency, and what was wrong.</summary>
    public sealed record Outcome(string Kind, string Result, double Milliseconds, string? Problem = null)
    {
        public bool Expected => Problem is null;
    }

    private readonly Dictionary<(string Path, int Prompt), string> _alone = [];
    private readonly Dictionary<int, int> _tokenCounts = [];
    private readonly string _oversized = new('x', (int)server.Server.Options.MaxRequestBytes + 4096);

    public int Prompts { get; } = 16;

    private object ChatBody(int prompt, bool stream) => new
    {
        messages = new[] { new { role = "user", content = $"Tell me about {Topics[prompt % Topics.Length]}, question {prompt / Topics.Length}." } },
        max_tokens = 1 + prompt % maxTokens,
        temperature = 0,
        stream,
        stream_options = stream ? new { include_usage = true } : null,
    };

    private object CompletionBody(int prompt) => new
    {
        prompt = $"Once upon a time there were {Topics[prompt % Topics.Length]} number {prompt}",
        max_tokens = 1 + prompt % maxTokens,
        temperature = 0,
    };

    /// <summary>Each prompt's reply sent alone (the reference the soak's replies must equal), and each prompt's token count.</summary>
    public async Task ComputeReferencesAsync()
    {
        for (int p = 0; p < Prompts; p++)
        {
            _alone[("chat", p)] = await ChatTextAsync(p);
            _alone[("completion", p)] = await CompletionTextAsync(p);
            if (p % maxTokens >= 3 && (_alone[("chat", p)].Length == 0 || _alone[("completion", p)].Length == 0))
                throw new InvalidOperationException($"prompt {p}: an empty reply of {1 + p % maxTokens} tokens would make the corruption check empty");
            using var tokenized = await server.PostAsync("tokenize", new { prompt = $"Tell me about {Topics[p % Topics.Length]}" });
            _tokenCounts[p] = (await TestServer.JsonOf(tokenized)).GetProperty("count").GetInt32();
        }
    }

    /// <summary>
    /// Runs <paramref name="clients"/> concurrent clients, each sending one request after another, until
    /// <paramref name="duration"/> has passed, counting their outcomes in <paramref name="tally"/> (whose memory is fixed,
    /// so that what grows is the server's). With <paramref name="sampleEvery"/>, memory is also sampled that often.
    /// </summary>
    public async Task RunAsync(TimeSpan duration, int clients, int seed, SoakTally tally, TimeSpan? sampleEvery = null)
    {
        var end = Stopwatch.StartNew();
        var sampler = sampleEvery is { } every ? Task.Run(async () =>
        {
            for (var next = every; next < duration; next += every)
            {
                await Task.Delay(next - end.Elapsed);
                tally.Sample(end.Elapsed, Memory());
            }
        }) : Task.CompletedTask;
        int total = Mix.Sum(m => m.Weight);
        var workers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(seed * 1000 + c);
            while (end.Elapsed < duration)
            {
                int pick = random.Next(total);
                string kind = Mix.First(m => (pick -= m.Weight) < 0).Kind;
                tally.Add(await OneAsync(kind, random));
            }
        })).ToArray();
        await Task.WhenAll(workers);
        await sampler;
    }

    private async Task<Outcome> OneAsync(string kind, Random random)
    {
        var clock = Stopwatch.StartNew();
        int prompt = random.Next(Prompts);
        try
        {
            string? problem = kind switch
            {
                Chat => Same(kind, _alone[("chat", prompt)], await ChatTextAsync(prompt)),
                ChatStream => await StreamAsync(prompt, slow: null),
                Completion => Same(kind, _alone[("completion", prompt)], await CompletionTextAsync(prompt)),
                Tokenize => await TokenizeAsync(prompt),
                Disconnect => await DisconnectAsync(prompt, random.Next(0, 4)),
                SlowReader => await StreamAsync(prompt, slow: random),
                Oversized => await ErrorAsync(server.Http, "v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"" + _oversized + "\"}]}", 413, "request_too_large"),
                Malformed => await ErrorAsync(server.Http, random.Next(2) == 0 ? "v1/chat/completions" : "v1/completions", MalformedBodies[random.Next(MalformedBodies.Length)], 400, null),
                MissingKey => await ErrorAsync(null, "v1/chat/completions", JsonSerializer.Serialize(ChatBody(prompt, false)), 401, "missing_api_key"),
                WrongKey => await ErrorAsync(null, "v1/chat/completions", JsonSerializer.Serialize(ChatBody(prompt, false)), 401, "invalid_api_key", "sk-wrong-" + random.Next()),
                Timeout => random.Next(2) == 0
                    ? await ErrorAsync(timeoutServer.Http, "v1/chat/completions", JsonSerializer.Serialize(ChatBody(prompt, false)), 504, "request_timeout")
                    : await StreamedTimeoutAsync(prompt),
                _ => throw new InvalidOperationException(kind),
            };
            return new Outcome(kind, problem is null ? kind == Disconnect ? "disconnected" : "expected" : "unexpected", clock.Elapsed.TotalMilliseconds, problem);
        }
        catch (Exception e)
        {
            return new Outcome(kind, "unexpected", clock.Elapsed.TotalMilliseconds, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static string? Same(string kind, string expected, string actual) =>
        expected == actual ? null : $"{kind} reply corrupted: expected {JsonSerializer.Serialize(expected)}, got {JsonSerializer.Serialize(actual)}";

    private async Task<string> ChatTextAsync(int prompt) => (await server.ChatAsync(ChatBody(prompt, false))).Text;

    private async Task<string> CompletionTextAsync(int prompt)
    {
        using var response = await server.PostAsync("v1/completions", CompletionBody(prompt));
        var json = await TestServer.JsonOf(response);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{(int)response.StatusCode}: {json}");
        return json.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    private async Task<string?> TokenizeAsync(int prompt)
    {
        using var response = await server.PostAsync("tokenize", new { prompt = $"Tell me about {Topics[prompt % Topics.Length]}" });
        if (response.StatusCode != HttpStatusCode.OK) return $"/tokenize answered {(int)response.StatusCode}";
        int count = (await TestServer.JsonOf(response)).GetProperty("count").GetInt32();
        return count == _tokenCounts[prompt] ? null : $"/tokenize counted {count} tokens, alone {_tokenCounts[prompt]}";
    }

    /// <summary>A streamed chat read to its end (slowly: a pause after each event) and checked like <see cref="StreamedChat"/>.</summary>
    private async Task<string?> StreamAsync(int prompt, Random? slow)
    {
        using var response = await server.SendStreamingAsync("v1/chat/completions", ChatBody(prompt, true));
        if (response.StatusCode != HttpStatusCode.OK) return $"stream answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}";
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            events.Add(line);
            if (slow is not null) await Task.Delay(slow.Next(20, 120));
        }
        var (text, problem) = ParseStream(events);
        return problem ?? Same(slow is null ? ChatStream : SlowReader, _alone[("chat", prompt)], text);
    }

    /// <summary>Reads <paramref name="events"/> events of a stream, then leaves (the connection is dropped).</summary>
    private async Task<string?> DisconnectAsync(int prompt, int events)
    {
        using var cancel = new CancellationTokenSource();
        using (var response = await server.SendStreamingAsync("v1/chat/completions", ChatBody(prompt, true), cancel.Token))
        {
            if (response.StatusCode != HttpStatusCode.OK) return $"stream answered {(int)response.StatusCode}";
            var stream = await response.Content.ReadAsStreamAsync(cancel.Token);
            using var reader = new StreamReader(stream);
            for (int i = 0; i < events; i++)
                if (await reader.ReadLineAsync(cancel.Token) is null) break;
            cancel.Cancel();
        }
        return null;
    }

    private async Task<string?> StreamedTimeoutAsync(int prompt)
    {
        using var response = await timeoutServer.SendStreamingAsync("v1/chat/completions", ChatBody(prompt, true));
        if (response.StatusCode != HttpStatusCode.OK) return $"stream answered {(int)response.StatusCode}";
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The role chunk, the error event, [DONE].
        if (lines.Length != 3 || lines[^1] != "data: [DONE]" || !lines[1].StartsWith("data: ", StringComparison.Ordinal))
            return $"a timed-out stream should be the role chunk, an error event and [DONE]: {string.Join(" | ", lines)}";
        return ErrorShape(lines[1]["data: ".Length..], "request_timeout");
    }

    /// <summary>Posts <paramref name="body"/> (with no key when <paramref name="client"/> is null, or <paramref name="key"/>) and checks an error of <paramref name="status"/> in OpenAI's shape.</summary>
    private async Task<string?> ErrorAsync(HttpClient? client, string path, string body, int status, string? code, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri((client ?? server.Http).BaseAddress!, path)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = client is null ? await Anonymous.SendAsync(request) : await client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        if ((int)response.StatusCode != status) return $"{path} answered {(int)response.StatusCode}, expected {status}: {Cut(text)}";
        return ErrorShape(text, code);
    }

    private static string? ErrorShape(string text, string? code)
    {
        try
        {
            using var json = JsonDocument.Parse(text);
            var error = json.RootElement.GetProperty("error");
            if (string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()) || error.GetProperty("type").ValueKind != JsonValueKind.String)
                return $"an error without message or type: {Cut(text)}";
            if (code is not null && error.GetProperty("code").GetString() != code) return $"error code is not {code}: {Cut(text)}";
            return null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"not an OpenAI error ({e.Message}): {Cut(text)}";
        }
    }

    /// <summary>The text of a stream's events, or what is wrong with them (the checks of <see cref="StreamedChat"/>).</summary>
    private static (string Text, string? Problem) ParseStream(List<string> events)
    {
        var text = new StringBuilder();
        string? id = null, finish = null;
        bool done = false, usage = false;
        int chunks = 0;
        foreach (var line in events)
        {
            if (done) return ("", "an event after [DONE]");
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) return ("", $"a line that is not an event: {Cut(line)}");
            string data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }
            using var doc = JsonDocument.Parse(data);
            var chunk = doc.RootElement;
            if (chunk.TryGetProperty("error", out _)) return ("", $"an error event: {Cut(data)}");
            if ((id ??= chunk.GetProperty("id").GetString()) != chunk.GetProperty("id").GetString()) return ("", "the id changed mid-stream");
            var choices = chunk.GetProperty("choices");
            if (choices.GetArrayLength() == 0)
            {
                if (finish is null) return ("", "usage before the finish chunk");
                usage = true;
                continue;
            }
            if (finish is not null) return ("", "a chunk after the finish chunk");
            var choice = choices[0];
            var delta = choice.GetProperty("delta");
            if ((chunks == 0) != delta.TryGetProperty("role", out _)) return ("", "the role is not (only) in the first chunk");
            if (choice.GetProperty("finish_reason").GetString() is { } reason) finish = reason;
            else if (chunks > 0) text.Append(delta.GetProperty("content").GetString());
            chunks++;
        }
        if (!done) return ("", "the stream did not end with [DONE] (a lost or cut reply)");
        if (finish is null || !usage) return ("", "the stream has no finish or usage chunk");
        return (text.ToString(), null);
    }

    private static string Cut(string text) => text.Length > 300 ? text[..300] + "…" : text;

    /// <summary>A client without the API key (missing and wrong keys), sharing nothing with the others.</summary>
    public HttpClient Anonymous { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Managed heap (after a full, compacting GC) and resident set, in bytes.</summary>
    public static (long Managed, long Resident) Memory()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return (GC.GetTotalMemory(forceFullCollection: true), self.WorkingSet64);
    }
}
