namespace SeekSharp.Tokenization;

/// <summary>
/// A tokenizer file, config or chat template that cannot be used: missing, malformed, or asking for a feature
/// SeekSharp does not implement. The message names the file and the field (or template position) at fault.
/// </summary>
public sealed class TokenizerException : SeekSharpException
{
    public TokenizerException(string message) : base(message) { }
    public TokenizerException(string message, Exception? inner) : base(message, inner) { }
}
