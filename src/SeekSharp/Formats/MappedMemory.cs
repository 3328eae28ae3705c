using System.Buffers;

namespace SeekSharp.Formats;

/// <summary>
/// A <see cref="MemoryManager{T}"/> over a range of a memory map, so that a tensor's bytes can be kept in a field
/// as <see cref="ReadOnlyMemory{T}"/> (spans cannot). It owns nothing: the map stays with its source, and the memory
/// must not be used after the source is disposed. The pages are mapped read-only; writing through them faults.
/// </summary>
internal sealed unsafe class MappedMemory(byte* start, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => new(start, length);

    // Mapped memory never moves, so pinning is only a pointer.
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)length, nameof(elementIndex));
        return new MemoryHandle(start + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
