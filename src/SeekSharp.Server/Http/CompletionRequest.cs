using System.Text.Json;

namespace SeekSharp.Server.Http;

/// <summary>
/// A /v1/completions body: one prompt (a string, or token ids; a list holding one of them), the shared generation
/// parameters, and logprobs (0 to 5 alternatives). Several prompts per request, echo and suffix are a 400.
/// </summary>
internal sealed record CompletionRequest(int[] Prompt, SamplingRequest Generation, int? Logprobs)
{
    public const int MaxLogprobs = 5;

    public static CompletionRequest Parse(JsonElement root, ServedModel model)
    {
        ModelField.Check(root, model);
        if (!JsonFields.TryGet(root, "prompt", out var prompt)) throw JsonFields.Missing("prompt");
        var ids = PromptIds(prompt, model);
        if (ids.Length == 0) throw ApiError.BadRequest("Invalid 'prompt': it is empty.", "prompt", "invalid_value");
        if (JsonFields.Bool(root, "echo") == true) throw JsonFields.Unsupported("echo", "echoing the prompt is not implemented.");
        if (JsonFields.String(root, "suffix") is { Length: > 0 }) throw JsonFields.Unsupported("suffix", "insertion (fill in the middle) is not implemented.");
        if (JsonFields.TryGet(root, "logit_bias", out var bias) && (bias.ValueKind != JsonValueKind.Object || bias.EnumerateObject().Any()))
            throw JsonFields.Unsupported("logit_bias", "logit biases are not implemented.");
        var generation = SamplingRequest.Parse(root, model);
        int? logprobs = (int?)JsonFields.Integer(root, "logprobs", 0, MaxLogprobs);
        return new CompletionRequest(ids, generation, logprobs);
    }

    private static int[] PromptIds(JsonElement prompt, ServedModel model)
    {
        var tokenizer = model.Tokenizer;
        if (prompt.ValueKind == JsonValueKind.String) return tokenizer.Encode(prompt.GetString()!, tokenizer.AddBosToken);
        if (prompt.ValueKind != JsonValueKind.Array) throw JsonFields.WrongType("prompt", "a string, an array of token ids, or an array holding one of them", prompt);
        int n = prompt.GetArrayLength();
        if (n == 0) throw ApiError.BadRequest("Invalid 'prompt': empty array.", "prompt", "empty_array");
        var first = prompt[0];
        if (first.ValueKind is JsonValueKind.String or JsonValueKind.Array)
        {
            if (n > 1) throw JsonFields.Unsupported("prompt", "one prompt per request (send several requests; they are batched).");
            return first.ValueKind == JsonValueKind.String ? tokenizer.Encode(first.GetString()!, tokenizer.AddBosToken) : TokenIds(first, "prompt[0]", tokenizer.VocabSize);
        }
        return TokenIds(prompt, "prompt", tokenizer.VocabSize);
    }

    public static int[] TokenIds(JsonElement array, string param, int vocab)
    {
        if (array.ValueKind != JsonValueKind.Array) throw JsonFields.WrongType(param, "an array of token ids", array);
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var e in array.EnumerateArray())
        {
            ids[i] = (int)JsonFields.IntegerValue(e, $"{param}[{i}]", 0, vocab - 1);
            i++;
        }
        return ids;
    }
}
