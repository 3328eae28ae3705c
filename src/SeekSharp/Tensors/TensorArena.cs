namespace SeekSharp.Tensors;

/// <summary>
/// Hands out tensors carved from a few large arrays and takes them all back at once with <see cref="Reset"/>.
/// A forward or training step allocates its activations here; after the first step the chunks are reused,
/// so steady-state steps allocate nothing. Not thread-safe: one arena per step owner.
/// </summary>
public sealed class TensorArena
{
    private const int DefaultChunk = 1 << 22; // 4M floats = 16 MiB
    private readonly List<float[]> _chunks = new();
    private readonly int _chunkSize;
    private int _chunk;   // index of the chunk being carved
    private int _used;    // floats used in that chunk

    public TensorArena(int chunkFloats = DefaultChunk) => _chunkSize = Math.Max(1024, chunkFloats);

    /// <summary>Floats held by the arena (its high-water mark).</summary>
    public long Capacity => _chunks.Sum(c => (long)c.Length);

    /// <summary>A tensor of the given shape, zero-filled.</summary>
    public Tensor Allocate(TensorShape shape)
    {
        var t = AllocateUninitialized(shape);
        t.Clear();
        return t;
    }

    public Tensor Allocate(int d0) => Allocate(new TensorShape(d0));
    public Tensor Allocate(int d0, int d1) => Allocate(new TensorShape(d0, d1));
    public Tensor Allocate(int d0, int d1, int d2) => Allocate(new TensorShape(d0, d1, d2));

    /// <summary>A tensor whose contents are whatever the buffer held; the caller overwrites every element.</summary>
    public Tensor AllocateUninitialized(TensorShape shape)
    {
        int size = shape.Size;
        // 16-float granularity keeps every tensor 64-byte aligned relative to the chunk start.
        int rounded = (size + 15) & ~15;
        while (true)
        {
            if (_chunk < _chunks.Count)
            {
                var chunk = _chunks[_chunk];
                if (chunk.Length - _used >= rounded)
                {
                    var t = new Tensor(chunk, _used, shape);
                    _used += rounded;
                    return t;
                }
                _chunk++;
                _used = 0;
                continue;
            }
            _chunks.Add(new float[Math.Max(_chunkSize, rounded)]);
        }
    }

    /// <summary>Makes every tensor handed out so far invalid and the memory reusable.</summary>
    public void Reset()
    {
        _chunk = 0;
        _used = 0;
    }
}
