using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SeekSharp.Tokenization;

namespace SeekSharp.Server.Http;

/// <summary>
/// POST /tokenize and POST /detokenize (vLLM's shapes). Tokenize takes {"prompt": text} (BOS added when the
/// tokenizer wants it, unless add_special_tokens is false) or {"messages": [...]} rendered with the chat template
/// (add_generation_prompt, default true), and answers {"tokens", "count", "max_model_len"}; detokenize takes
/// {"tokens": [...]} and answers {"prompt": text}.
/// </summary>
internal static class TokenizeEndpoints
{
    public static async Task TokenizeAsync(HttpContext http, ModelHost host)
    {
        using var body = await RequestBody.ReadObjectAsync(http, host.Options.MaxRequestBytes);
        var (model, _) = host.Require();
        var root = body.RootElement;
        ModelField.Check(root, model);
        var tokenizer = model.Tokenizer;
        int[] ids;
        if (JsonFields.TryGet(root, "messages", out _))
        {
            var messages = ChatCompletionRequest.Parse(root, model).Messages;
            bool generationPrompt = JsonFields.Bool(root, "add_generation_prompt") ?? true;
            try
            {
                ids = tokenizer.EncodeChat(messages, generationPrompt);
            }
            catch (TokenizerException e)
            {
                throw ApiError.BadRequest($"The chat template could not render these messages: {e.Message}", "messages", "invalid_value");
            }
        }
        else
        {
            var prompt = JsonFields.String(root, "prompt") ?? throw JsonFields.Missing("prompt");
            bool special = JsonFields.Bool(root, "add_special_tokens") ?? true;
            ids = tokenizer.Encode(prompt, special && tokenizer.AddBosToken);
        }
        await Json.WriteAsync(http, 200, new { tokens = ids, count = ids.Length, max_model_len = model.Context });
    }

    public static async Task DetokenizeAsync(HttpContext http, ModelHost host)
    {
        using var body = await RequestBody.ReadObjectAsync(http, host.Options.MaxRequestBytes);
        var (model, _) = host.Require();
        var root = body.RootElement;
        ModelField.Check(root, model);
        if (!JsonFields.TryGet(root, "tokens", out JsonElement tokens)) throw JsonFields.Missing("tokens");
        var ids = CompletionRequest.TokenIds(tokens, "tokens", model.Tokenizer.VocabSize);
        string text;
        try
        {
            text = model.Tokenizer.Decode(ids);
        }
        catch (InvalidInputException e)
        {
            throw ApiError.BadRequest($"Invalid 'tokens': {e.Message}", "tokens", "invalid_value");
        }
        await Json.WriteAsync(http, 200, new { prompt = text });
    }
}
