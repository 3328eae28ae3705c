using SeekSharp.Server.Scheduling;

namespace SeekSharp.Server.Http;

/// <summary>Log-probabilities in the two shapes OpenAI uses: chat's "content" list, and the legacy completions' parallel arrays.</summary>
internal static class LogprobsJson
{
    public static object Chat(IEnumerable<TokenLogprob> tokens) => new
    {
        content = tokens.Select(t => new
        {
            token = t.Chosen.Text,
            logprob = t.Chosen.Logprob,
            bytes = Bytes(t.Chosen.Bytes),
            top_logprobs = t.Top.Select(c => new { token = c.Text, logprob = c.Logprob, bytes = Bytes(c.Bytes) }),
        }),
        refusal = (string?)null,
    };

    /// <summary>The legacy shape; <paramref name="offset"/> is the text length before these tokens (for text_offset), advanced past them.</summary>
    public static object Legacy(IReadOnlyList<TokenLogprob> tokens, ref int offset)
    {
        var offsets = new int[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
        {
            offsets[i] = offset;
            offset += tokens[i].Chosen.Text.Length;
        }
        return new
        {
            tokens = tokens.Select(t => t.Chosen.Text),
            token_logprobs = tokens.Select(t => t.Chosen.Logprob),
            top_logprobs = tokens.Select(t =>
            {
                var d = new Dictionary<string, float>();
                foreach (var c in t.Top) d.TryAdd(c.Text, c.Logprob);
                return d;
            }),
            text_offset = offsets,
        };
    }

    /// <summary>As numbers, as OpenAI sends them (a byte[] would serialize as base64).</summary>
    private static int[] Bytes(byte[] bytes) => Array.ConvertAll(bytes, b => (int)b);
}
