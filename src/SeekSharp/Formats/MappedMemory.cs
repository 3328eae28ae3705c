using System.Buffers;
using System.Runtime.InteropServices;

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

/// <summary>Where a tensor lies in a memory-mapped checkpoint, for weights used in place.</summary>
public static unsafe class MappedTensors
{
    /// <summary>
    /// The address of <paramref name="name"/>'s bytes when <paramref name="source"/> holds them in a memory map (valid
    /// until the source is disposed); null when it does not, or the tensor is too large for one view.
    /// </summary>
    public static byte* TryGetAddress(ITensorSource source, string name)
    {
        if (source.Get(name).ByteLength > int.MaxValue) return null;
        var memory = source.GetMemory(name);
        if (!MemoryMarshal.TryGetMemoryManager<byte, MappedMemory>(memory, out var manager, out int start, out _)) return null;
        using var handle = manager.Pin(start);
        return (byte*)handle.Pointer;
    }
}
