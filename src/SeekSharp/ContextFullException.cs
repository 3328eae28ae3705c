namespace SeekSharp;

/// <summary>The requested context is longer than the cache that was allocated for it.</summary>
public sealed class ContextFullException(int capacity, int needed)
    : SeekSharpException($"The context is full: {needed} positions needed, the cache holds {capacity} (shorten the prompt, or raise --context up to the model's max_position_embeddings).")
{
    public int Capacity { get; } = capacity;
}
