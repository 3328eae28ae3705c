using System.Text.Json;
using SeekSharp.Inference;
using SeekSharp.Inference.Structured;
using SeekSharp.Server.Scheduling;

namespace SeekSharp.Server.Http;

/// <summary>
/// The generation parameters /v1/chat/completions and /v1/completions share, read and checked: the token limit,
/// sampling (OpenAI's temperature, top_p, seed, penalties; top_k, min_p, repetition_penalty and ignore_eos as extensions, as vLLM has them), stop
/// strings, n (only 1), streaming and response_format (structured output: json_object or json_schema). Parameters a request leaves out come from the model's generation_config.json.
/// </summary>
internal sealed record SamplingRequest
{
    public const int MaxStopStrings = 16;

    public int? MaxTokens { get; init; }
    public string MaxTokensParam { get; init; } = "max_tokens";
    public required SamplingOptions Sampling { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    public bool IgnoreEos { get; init; }
    public JsonGrammar? Json { get; init; }

    public static SamplingRequest Parse(JsonElement root, ServedModel model)
    {
        long? maxCompletion = JsonFields.Integer(root, "max_completion_tokens", 1, int.MaxValue);
        long? maxTokens = JsonFields.Integer(root, "max_tokens", 1, int.MaxValue);
        if (JsonFields.Integer(root, "n", 1, 128) is { } n && n != 1)
            throw ApiError.BadRequest($"Invalid 'n': this server generates one choice per request (n = 1), got {n}.", "n", "unsupported_value");
        if (JsonFields.Integer(root, "best_of", 1, 128) is { } bestOf && bestOf != 1)
            throw ApiError.BadRequest($"Invalid 'best_of': this server generates one choice per request (best_of = 1), got {bestOf}.", "best_of", "unsupported_value");

        var defaults = model.Defaults;
        var fallback = new SamplingOptions();
        double? topK = JsonFields.Number(root, "top_k", -1, int.MaxValue);
        var sampling = new SamplingOptions
        {
            Temperature = (float)(JsonFields.Number(root, "temperature", 0, 2) ?? defaults?.Temperature ?? fallback.Temperature),
            TopP = (float)(JsonFields.Number(root, "top_p", 0, 1) is { } p ? (p == 0 ? 1e-6 : p) : defaults?.TopP ?? fallback.TopP),
            TopK = topK is { } k ? (k < 0 ? 0 : (int)k) : defaults?.TopK ?? 0,
            MinP = (float)(JsonFields.Number(root, "min_p", 0, 1) ?? 0),
            RepetitionPenalty = (float)(JsonFields.Number(root, "repetition_penalty", 0.01, 100) ?? defaults?.RepetitionPenalty ?? 1),
            FrequencyPenalty = (float)(JsonFields.Number(root, "frequency_penalty", -2, 2) ?? 0),
            PresencePenalty = (float)(JsonFields.Number(root, "presence_penalty", -2, 2) ?? 0),
            Seed = JsonFields.Integer(root, "seed", long.MinValue, long.MaxValue) is { } seed ? unchecked((ulong)seed) : null,
        };

        bool stream = JsonFields.Bool(root, "stream") ?? false;
        bool includeUsage = false;
        if (JsonFields.TryGet(root, "stream_options", out var so))
        {
            if (so.ValueKind != JsonValueKind.Object) throw JsonFields.WrongType("stream_options", "an object", so);
            if (!stream) throw ApiError.BadRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value");
            includeUsage = JsonFields.Bool(so, "include_usage", "stream_options.include_usage") ?? false;
        }

        return new SamplingRequest
        {
            MaxTokens = (int?)(maxCompletion ?? maxTokens),
            MaxTokensParam = maxCompletion is not null ? "max_completion_tokens" : "max_tokens",
            Sampling = sampling,
            Stop = ParseStop(root),
            Stream = stream,
            IncludeUsage = includeUsage,
            IgnoreEos = JsonFields.Bool(root, "ignore_eos") ?? false,
            Json = ParseResponseFormat(root),
        };
    }

    /// <summary>
    /// response_format: {"type": "text"} (or none): free text; {"type": "json_object"}: any JSON object;
    /// {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}: a value of the schema. An unsupported
    /// schema part is a 400 whose message and param name it.
    /// </summary>
    private static JsonGrammar? ParseResponseFormat(JsonElement root)
    {
        if (!JsonFields.TryGet(root, "response_format", out var format)) return null;
        if (format.ValueKind != JsonValueKind.Object) throw JsonFields.WrongType("response_format", "an object", format);
        var type = JsonFields.String(format, "type", "response_format.type") ?? throw JsonFields.Missing("response_format.type");
        switch (type)
        {
            case "text": return null;
            case "json_object": return JsonGrammar.AnyObject();
            case "json_schema":
                if (!JsonFields.TryGet(format, "json_schema", out var spec)) throw JsonFields.Missing("response_format.json_schema");
                if (spec.ValueKind != JsonValueKind.Object) throw JsonFields.WrongType("response_format.json_schema", "an object", spec);
                var name = JsonFields.String(spec, "name", "response_format.json_schema.name") ?? throw JsonFields.Missing("response_format.json_schema.name");
                if (name.Length == 0 || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                    throw ApiError.BadRequest("Invalid 'response_format.json_schema.name': letters, digits, underscores and dashes, at most 64.", "response_format.json_schema.name", "invalid_value");
                JsonFields.Bool(spec, "strict", "response_format.json_schema.strict");
                JsonFields.String(spec, "description", "response_format.json_schema.description");
                if (!JsonFields.TryGet(spec, "schema", out var schema)) throw JsonFields.Missing("response_format.json_schema.schema");
                try
                {
                    return JsonGrammar.FromSchema(schema);
                }
                catch (JsonSchemaException e)
                {
                    string param = e.Path.Length == 0 ? "response_format.json_schema.schema" : $"response_format.json_schema.schema.{e.Path}";
                    throw ApiError.BadRequest($"Invalid schema for response_format: {param}: {e.Reason}", param, "invalid_json_schema");
                }
            default:
                throw ApiError.BadRequest($"Invalid value for 'response_format.type': '{type}'. Supported values are: 'text', 'json_object' and 'json_schema'.", "response_format.type", "invalid_value");
        }
    }

    private static IReadOnlyList<string> ParseStop(JsonElement root)
    {
        if (!JsonFields.TryGet(root, "stop", out var stop)) return [];
        if (stop.ValueKind == JsonValueKind.String) return NonEmpty([stop.GetString()!]);
        if (stop.ValueKind != JsonValueKind.Array) throw JsonFields.WrongType("stop", "a string or an array of strings", stop);
        if (stop.GetArrayLength() > MaxStopStrings)
            throw ApiError.BadRequest($"Invalid 'stop': at most {MaxStopStrings} stop strings, got {stop.GetArrayLength()}.", "stop", "array_above_max_length");
        var list = new List<string>();
        int i = 0;
        foreach (var s in stop.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.String) throw JsonFields.WrongType($"stop[{i}]", "a string", s);
            list.Add(s.GetString()!);
            i++;
        }
        return NonEmpty(list);
    }

    /// <summary>Empty stop strings would stop before any text; they are dropped, as OpenAI ignores them.</summary>
    private static IReadOnlyList<string> NonEmpty(List<string> stops) => stops.Where(s => s.Length > 0).ToArray();

    /// <summary>
    /// The scheduler's parameters for a prompt of <paramref name="promptTokens"/>: the limit is what the request asked
    /// (the prompt and it must fit the context) or, when it asked none, the rest of the context.
    /// </summary>
    public JobParameters ToJob(int promptTokens, ServedModel model, int? topLogprobs, string promptWhat)
    {
        int context = model.Context;
        if (promptTokens >= context)
            throw ApiError.BadRequest($"This model's maximum context length is {context} tokens. However, your {promptWhat} resulted in {promptTokens} tokens. Please reduce the length of the {promptWhat}.",
                promptWhat, "context_length_exceeded");
        if (MaxTokens is { } max && (long)promptTokens + max > context)   // long: max_tokens may be 2^31 − 1
            throw ApiError.BadRequest($"This model's maximum context length is {context} tokens. However, you requested {(long)promptTokens + max} tokens ({promptTokens} in the {promptWhat}, {max} in the completion). Please reduce the length of the {promptWhat} or the completion.",
                MaxTokensParam, "context_length_exceeded");
        return new JobParameters
        {
            MaxTokens = MaxTokens ?? context - promptTokens,
            Sampling = Sampling,
            StopStrings = Stop,
            TopLogprobs = topLogprobs,
            IgnoreEos = IgnoreEos,
            Json = Json,
        };
    }
}
