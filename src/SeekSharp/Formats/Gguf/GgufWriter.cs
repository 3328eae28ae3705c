using System.Text;

namespace SeekSharp.Formats.Gguf;

/// <summary>
/// Writes a GGUF v3 file (docs/gguf.md): header, metadata, tensor infos, then each tensor's data at an offset aligned to
/// <c>general.alignment</c> (32 unless the metadata sets it). The file is written to a temporary name and renamed.
/// </summary>
public static class GgufWriter
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const uint Version = 3;
    public const int DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";

    public static void Write(string path, IReadOnlyList<KeyValuePair<string, object>> metadata, IReadOnlyList<GgufTensorToWrite> tensors,
        CancellationToken cancellationToken = default)
    {
        int alignment = DefaultAlignment;
        foreach (var (key, value) in metadata)
            if (key == AlignmentKey)
                alignment = value is uint a && a > 0 && (a & (a - 1)) == 0 ? (int)a : throw new ArgumentException($"{AlignmentKey} must be a uint power of two.");
        foreach (var t in tensors)
        {
            if (t.Dims.Length is < 1 or > 4 || t.Dims.Any(d => d <= 0))
                throw new ArgumentException($"GGUF tensor '{t.Name}': dims {{{string.Join(", ", t.Dims)}}} must be 1 to 4 positive sizes.");
            if (t.Dims[0] % t.Type.BlockSize() != 0)
                throw new ArgumentException($"GGUF tensor '{t.Name}': {t.Type} needs ne[0] ({t.Dims[0]}) to be a multiple of {t.Type.BlockSize()}.");
        }
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(Version);
            w.Write((ulong)tensors.Count);
            w.Write((ulong)metadata.Count);
            foreach (var (key, value) in metadata)
            {
                WriteString(w, key);
                WriteValue(w, value, key);
            }
            long offset = 0;
            var offsets = new long[tensors.Count];
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                WriteString(w, t.Name);
                w.Write((uint)t.Dims.Length);
                foreach (var d in t.Dims) w.Write((ulong)d);
                w.Write((uint)t.Type);
                w.Write((ulong)offset);
                offsets[i] = offset;
                offset = Align(offset + t.ByteSize, alignment);
            }
            w.Flush();
            Pad(stream, alignment);
            long dataStart = stream.Position;
            for (int i = 0; i < tensors.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var t = tensors[i];
                Pad(stream, alignment);
                if (stream.Position - dataStart != offsets[i]) throw new InvalidOperationException($"GGUF writer: '{t.Name}' landed at the wrong offset.");
                long before = stream.Position;
                t.WriteData(stream);
                if (stream.Position - before != t.ByteSize)
                    throw new InvalidOperationException($"GGUF tensor '{t.Name}' wrote {stream.Position - before} bytes, expected {t.ByteSize}.");
            }
        }, cancellationToken);
    }

    internal static long Align(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    private static void Pad(Stream stream, int alignment)
    {
        long padding = Align(stream.Position, alignment) - stream.Position;
        for (long i = 0; i < padding; i++) stream.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, object value, string key)
    {
        w.Write((uint)TypeOf(value, key));
        WritePayload(w, value, key);
    }

    private static void WritePayload(BinaryWriter w, object value, string key)
    {
        switch (value)
        {
            case byte v: w.Write(v); break;
            case sbyte v: w.Write(v); break;
            case ushort v: w.Write(v); break;
            case short v: w.Write(v); break;
            case uint v: w.Write(v); break;
            case int v: w.Write(v); break;
            case float v: w.Write(v); break;
            case bool v: w.Write((byte)(v ? 1 : 0)); break;
            case string v: WriteString(w, v); break;
            case ulong v: w.Write(v); break;
            case long v: w.Write(v); break;
            case double v: w.Write(v); break;
            case Array a:
                var elementType = ElementTypeOf(a, key);
                w.Write((uint)elementType);
                w.Write((ulong)a.Length);
                foreach (var item in a) WritePayload(w, item!, key);
                break;
            default: throw new ArgumentException($"GGUF key '{key}': a {value.GetType().Name} is not a GGUF value.");
        }
    }

    internal static GgufValueType TypeOf(object value, string key) => value switch
    {
        byte => GgufValueType.UInt8,
        sbyte => GgufValueType.Int8,
        ushort => GgufValueType.UInt16,
        short => GgufValueType.Int16,
        uint => GgufValueType.UInt32,
        int => GgufValueType.Int32,
        float => GgufValueType.Float32,
        bool => GgufValueType.Bool,
        string => GgufValueType.String,
        ulong => GgufValueType.UInt64,
        long => GgufValueType.Int64,
        double => GgufValueType.Float64,
        Array => GgufValueType.Array,
        _ => throw new ArgumentException($"GGUF key '{key}': a {value.GetType().Name} is not a GGUF value."),
    };

    private static GgufValueType ElementTypeOf(Array a, string key)
    {
        var type = a.GetType().GetElementType()!;
        if (type == typeof(string)) return GgufValueType.String;
        if (type.IsArray || type == typeof(object)) throw new ArgumentException($"GGUF key '{key}': arrays hold one scalar type.");
        return TypeOf(Activator.CreateInstance(type) ?? "", key);
    }
}
