namespace SeekSharp.Server.Scheduling;

/// <summary>A token with its log-probability under the model (log-softmax of the raw logits, before any sampling filter).</summary>
public readonly record struct TokenChoice(int Id, string Text, byte[] Bytes, float Logprob);

/// <summary>A generated token's log-probability and the most likely tokens at its position, best first.</summary>
public sealed record TokenLogprob(TokenChoice Chosen, IReadOnlyList<TokenChoice> Top);
