namespace SeekSharp;

/// <summary>The requested context is longer than the cache that was allocated for it.</summary>
public sealed class ContextFullException(int capacity, int needed)
    : SeekSharpException($"The context is full: {needed} positions needed, the cache holds {capacity} (raise --context).")
{
    public int Capacity { get; } = capacity;
}
