namespace SeekSharp.Inference;

/// <summary>Speculative decoding with the model's MTP module (docs/architecture.md §9.4), or plain decoding.</summary>
public enum SpeculativeMode { Off, Mtp }

/// <summary>How one reply is generated.</summary>
public sealed record GenerationOptions
{
    public int MaxTokens { get; init; } = 512;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Strings that end the reply; matched across token boundaries and never shown, not even in part.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public SpeculativeMode Speculative { get; init; } = SpeculativeMode.Off;
    /// <summary>Leave special tokens (the chat markers) out of the text.</summary>
    public bool SkipSpecialTokens { get; init; } = true;

    public void Validate()
    {
        if (MaxTokens <= 0) throw new InvalidInputException($"The token limit must be positive, got {MaxTokens}.");
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new InvalidInputException("A stop string cannot be empty.");
    }
}

/// <summary>Why a reply ended.</summary>
public enum FinishReason { EndOfSequence, StopString, Length, ContextFull, Cancelled }

/// <summary>What a generation did: token counts, timings and speculation statistics.</summary>
public sealed class GenerationStats
{
    public int PromptTokens { get; internal set; }
    /// <summary>Prompt tokens whose cache entries were reused from the previous turn.</summary>
    public int ReusedPromptTokens { get; internal set; }
    public int GeneratedTokens { get; internal set; }
    public double PrefillSeconds { get; internal set; }
    public double DecodeSeconds { get; internal set; }
    /// <summary>MTP drafts verified, and how many the main model accepted.</summary>
    public int Drafted { get; internal set; }
    public int Accepted { get; internal set; }
    public FinishReason FinishReason { get; internal set; }

    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? (PromptTokens - ReusedPromptTokens) / PrefillSeconds : 0;
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? GeneratedTokens / DecodeSeconds : 0;
    public double AcceptanceRate => Drafted > 0 ? (double)Accepted / Drafted : 0;
    /// <summary>Generated tokens per main-model forward pass: 1 without speculation, up to 2 with one MTP draft.</summary>
    public double TokensPerForward { get; internal set; }

    public override string ToString()
    {
        var s = $"prompt {PromptTokens} tokens ({ReusedPromptTokens} cached) at {PrefillTokensPerSecond:F1} tokens/s, generated {GeneratedTokens} at {DecodeTokensPerSecond:F1} tokens/s";
        if (Drafted > 0) s += $", MTP drafts accepted {Accepted}/{Drafted} ({AcceptanceRate:P0}), {TokensPerForward:F2} tokens per main forward";
        return s + $", finished: {FinishReason}";
    }
}
