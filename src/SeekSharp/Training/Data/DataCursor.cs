using SeekSharp.Tensors;

namespace SeekSharp.Training.Data;

/// <summary>Where a run is in its data: the window sampler's generator and the next row. Saved with the training state.</summary>
public struct DataCursor
{
    public Rng Rng;
    public long Position;

    public static DataCursor Start(ulong seed) => new() { Rng = new Rng(seed ^ 0xD47A5EEDUL), Position = 0 };

    public readonly void Write(BinaryWriter w)
    {
        var (a, b, c, d) = Rng.State;
        w.Write(a); w.Write(b); w.Write(c); w.Write(d);
        w.Write(Position);
    }

    public static DataCursor Read(BinaryReader r)
    {
        var cursor = new DataCursor();
        cursor.Rng.State = (r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64());
        cursor.Position = r.ReadInt64();
        return cursor;
    }
}
