namespace SeekSharp.Inference.Structured;

/// <summary>Constrained decoding could not go on: no token of the vocabulary can extend the JSON generated so far.</summary>
public sealed class StructuredOutputException : SeekSharpException
{
    public StructuredOutputException(string message) : base(message) { }
}
