using SeekSharp.Inference;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Server;

/// <summary>How <c>seeksharp serve</c> runs: what it serves, where it listens, and its limits.</summary>
public sealed record ServerOptions
{
    /// <summary>The model folder (already resolved: config.json and safetensors inside).</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>Tokenizer folder or tokenizer.json; null: the model folder's.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>The id clients name in "model"; null: the model folder's name.</summary>
    public string? ModelId { get; init; }

    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="Http.OpenAiServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every request but /health must carry "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }

    /// <summary>Sequences decoded together in one forward.</summary>
    public int Parallel { get; init; } = 4;

    /// <summary>Requests that may wait for a slot; past that the server answers 429.</summary>
    public int QueueLimit { get; init; } = 64;

    /// <summary>Positions per sequence (prompt + reply); null: 4096 or the model's maximum if smaller.</summary>
    public int? Context { get; init; }

    public QuantType? Quantization { get; init; }

    public SpeculativeMode Speculative { get; init; } = SpeculativeMode.Off;

    /// <summary>Worker threads for the forward passes; 0: one per core.</summary>
    public int Threads { get; init; }

    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    public long MaxRequestBytes { get; init; } = 4 << 20;

    /// <summary>Bytes of finished sequences' latent caches kept for reuse by later prompts (0 turns the cache off).</summary>
    public long PromptCacheBytes { get; init; } = 512L << 20;

    /// <summary>Prompt tokens prefilled per step, over all sequences being prefilled, so decodes are not stalled.</summary>
    public int PrefillChunk { get; init; } = InferenceSession.PrefillChunk;

    /// <summary>
    /// How long a generating request (chat completions, completions) may take from its arrival, waiting for a slot
    /// included; past it generation stops and the request is answered 504 <c>request_timeout</c> (a stream ends with
    /// that error event and [DONE]). Null: no limit.
    /// </summary>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>On shutdown, how long requests in flight may run before they are cancelled.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Tests: loading waits for this task first, so /health can be seen answering 503.</summary>
    internal Task? LoadGate { get; init; }

    /// <exception cref="InvalidInputException">A value out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelDirectory)) throw new InvalidInputException("No model folder given.");
        if (Port is < 0 or > 65535) throw new InvalidInputException($"--port must be in 0..65535, got {Port}.");
        if (string.IsNullOrWhiteSpace(Host)) throw new InvalidInputException("--host is empty.");
        if (Parallel < 1 || Parallel > 256) throw new InvalidInputException($"--parallel must be in 1..256, got {Parallel}.");
        if (QueueLimit < 0) throw new InvalidInputException($"The queue limit must be 0 or more, got {QueueLimit}.");
        if (Context is <= 1) throw new InvalidInputException($"--context must be at least 2, got {Context}.");
        if (Threads < 0) throw new InvalidInputException($"--threads must be positive, got {Threads}.");
        if (MaxRequestBytes < 1024) throw new InvalidInputException($"The request size limit must be at least 1024 bytes, got {MaxRequestBytes}.");
        if (PromptCacheBytes < 0) throw new InvalidInputException($"The prompt cache size must be 0 or more, got {PromptCacheBytes}.");
        if (PrefillChunk < 1) throw new InvalidInputException($"The prefill chunk must be positive, got {PrefillChunk}.");
        if (ApiKey is { Length: 0 }) throw new InvalidInputException("--api-key is empty.");
        if (RequestTimeout is { } t && (t <= TimeSpan.Zero || t > TimeSpan.FromDays(1)))
            throw new InvalidInputException($"--request-timeout must be more than 0 and at most a day, got {t.TotalSeconds} s.");
        if (ShutdownGrace < TimeSpan.Zero) throw new InvalidInputException("The shutdown grace period cannot be negative.");
    }
}
