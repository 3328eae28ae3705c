using System.IO.MemoryMappedFiles;
using System.Text;

namespace SeekSharp.Formats.Gguf;

/// <summary>
/// A GGUF v3 file, memory-mapped read-only for this object's lifetime. Opening validates the whole header: magic,
/// version, counts, every metadata value, every tensor info (known type, dims, ne[0] a multiple of the block size),
/// alignment, and that each tensor's bytes lie inside the file without overlapping another. Any problem is a
/// <see cref="CheckpointException"/> that names the file and the field.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _start;
    private readonly Dictionary<string, GgufTensorInfo> _tensors;

    public string Path { get; }
    public uint Version { get; }
    /// <summary>Metadata in file order; values as <see cref="GgufValueType"/> describes.</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }
    /// <summary>Tensors in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public int Alignment { get; }
    /// <summary>Absolute file offset of the data section.</summary>
    public long DataStart { get; }
    public long FileLength { get; }

    private GgufFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        FileLength = length;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _start = pointer + view.PointerOffset;
        try
        {
            var r = new Cursor(_start, length, path);
            uint magic = r.U32("magic");
            if (magic != GgufWriter.Magic) throw Error($"bad magic 0x{magic:X8}; not a GGUF file");
            Version = r.U32("version");
            if (Version != 3) throw Error($"version is {Version}; only GGUF v3 is supported");
            ulong tensorCount = r.U64("tensor_count"), kvCount = r.U64("metadata_kv_count");
            // Each tensor info takes at least 28 bytes and each key/value at least 13: a count beyond that is a corrupt file.
            if (tensorCount > (ulong)length / 28) throw Error($"tensor_count {tensorCount} cannot fit in a {length}-byte file");
            if (kvCount > (ulong)length / 13) throw Error($"metadata_kv_count {kvCount} cannot fit in a {length}-byte file");
            var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
            for (ulong i = 0; i < kvCount; i++)
            {
                string key = r.String($"metadata key {i}");
                var type = (GgufValueType)r.U32($"metadata '{key}' type");
                object value = r.Value(type, $"metadata '{key}'", allowArray: true);
                if (!metadata.TryAdd(key, value)) throw Error($"metadata key '{key}' appears twice");
            }
            Metadata = metadata;
            Alignment = DefaultOrAlignment(metadata);
            var tensors = new List<GgufTensorInfo>();
            _tensors = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
            for (ulong i = 0; i < tensorCount; i++)
            {
                string name = r.String($"tensor {i} name");
                uint nDims = r.U32($"tensor '{name}' n_dims");
                if (nDims is < 1 or > 4) throw Error($"tensor '{name}' has {nDims} dims; 1 to 4 expected");
                var dims = new long[nDims];
                long elements = 1;
                for (int d = 0; d < nDims; d++)
                {
                    ulong ne = r.U64($"tensor '{name}' ne[{d}]");
                    if (ne == 0 || ne > (ulong)length * 2) throw Error($"tensor '{name}' ne[{d}] = {ne} is impossible in a {length}-byte file");
                    dims[d] = (long)ne;
                    elements = checked(elements * dims[d]);
                    if (elements > length * 2) throw Error($"tensor '{name}' has more elements than the file can hold");
                }
                uint type = r.U32($"tensor '{name}' type");
                if (!GgufTensorTypes.IsKnown(type))
                    throw Error($"tensor '{name}' has ggml type {type}; supported: F32 (0), F16 (1), Q4_0 (2), Q8_0 (8)");
                var t = (GgufTensorType)type;
                if (dims[0] % t.BlockSize() != 0)
                    throw Error($"tensor '{name}' is {t} with ne[0] = {dims[0]}, not a multiple of its block size {t.BlockSize()}");
                ulong offset = r.U64($"tensor '{name}' offset");
                if (offset % (ulong)Alignment != 0) throw Error($"tensor '{name}' offset {offset} is not a multiple of the alignment {Alignment}");
                if (offset > (ulong)length) throw Error($"tensor '{name}' offset {offset} is beyond the end of the file (truncated?)");
                var info = new GgufTensorInfo(name, t, dims, (long)offset);
                if (!_tensors.TryAdd(name, info)) throw Error($"tensor '{name}' appears twice");
                tensors.Add(info);
            }
            DataStart = GgufWriter.Align(r.Position, Alignment);
            long previousEnd = 0;
            foreach (var t in tensors.OrderBy(t => t.Offset))
            {
                if (t.Offset < previousEnd) throw Error($"tensor '{t.Name}' (offset {t.Offset}) overlaps the tensor before it");
                long end = t.Offset + t.ByteSize;
                if (DataStart + end > length)
                    throw Error($"tensor {t} needs bytes [{DataStart + t.Offset}, {DataStart + end}) but the file has {length} (truncated?)");
                previousEnd = end;
            }
            Tensors = tensors;
        }
        catch
        {
            Release();
            throw;
        }
    }

    private CheckpointException Error(string message) => new($"{Path}: {message}");

    private int DefaultOrAlignment(Dictionary<string, object> metadata)
    {
        if (!metadata.TryGetValue(GgufWriter.AlignmentKey, out var value)) return GgufWriter.DefaultAlignment;
        if (value is uint a && a > 0 && a <= 1 << 20 && (a & (a - 1)) == 0) return (int)a;
        throw Error($"{GgufWriter.AlignmentKey} is {value} ({value.GetType().Name}); a uint32 power of two is required");
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    public static GgufFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF data is little-endian and SeekSharp reads it in place");
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new CheckpointException($"{full}: no such file");
        var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 0);
        MemoryMappedFile? map = null;
        try
        {
            long length = stream.Length;
            if (length < 24) throw new CheckpointException($"{full}: {length} bytes is too short for a GGUF header (truncated?)");
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            try { return new GgufFile(full, map, view, length); }
            catch { view.Dispose(); throw; }
        }
        catch
        {
            if (map is null) stream.Dispose(); else map.Dispose();
            throw;
        }
    }

    /// <summary>Whether the file starts with the GGUF magic (for telling a .gguf from a folder or other file).</summary>
    public static bool HasMagic(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            return s.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && BitConverter.ToUInt32(magic) == GgufWriter.Magic;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    public bool TryGetTensor(string name, out GgufTensorInfo info) => _tensors.TryGetValue(name, out info!);

    /// <summary>The tensor named <paramref name="name"/>, or a <see cref="CheckpointException"/> naming it and the file.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        _tensors.TryGetValue(name, out var info) ? info : throw Error($"tensor '{name}' is missing");

    /// <summary>Address of a tensor's first byte in the map; valid while this file is open.</summary>
    public byte* Address(GgufTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_start == null, this);
        return _start + DataStart + info.Offset;
    }

    /// <summary>A metadata value of type <typeparamref name="T"/>, or a <see cref="CheckpointException"/> if absent or of another type.</summary>
    public T Get<T>(string key) where T : notnull =>
        Metadata.TryGetValue(key, out var v) ? v is T t ? t : throw Error($"metadata '{key}' is a {v.GetType().Name}, expected {typeof(T).Name}")
            : throw Error($"metadata '{key}' is missing");

    /// <summary>A metadata value of type <typeparamref name="T"/>, null if absent (wrong type is still an error).</summary>
    public T? Find<T>(string key) where T : class =>
        Metadata.TryGetValue(key, out var v) ? v as T ?? throw Error($"metadata '{key}' is a {v.GetType().Name}, expected {typeof(T).Name}") : null;

    public void Dispose() => Release();

    private void Release()
    {
        if (_start == null) return;
        _start = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    public override string ToString() => $"{Path} ({Tensors.Count} tensors)";

    // Bounds-checked little-endian reads over the mapped header.
    private sealed class Cursor(byte* start, long length, string path)
    {
        public long Position { get; private set; }

        private byte* Take(long count, string field)
        {
            if (count < 0 || count > length - Position)
                throw new CheckpointException($"{path}: {field} runs past the end of the file at byte {Position} (truncated?)");
            byte* p = start + Position;
            Position += count;
            return p;
        }

        public uint U32(string field) => *(uint*)Take(4, field);
        public ulong U64(string field) => *(ulong*)Take(8, field);

        public string String(string field)
        {
            ulong n = U64(field + " length");
            if (n > (ulong)(length - Position)) throw new CheckpointException($"{path}: {field} claims {n} bytes, past the end of the file (truncated?)");
            try { return new UTF8Encoding(false, true).GetString(Take((long)n, field), (int)n); }
            catch (DecoderFallbackException) { throw new CheckpointException($"{path}: {field} is not valid UTF-8"); }
        }

        public object Value(GgufValueType type, string field, bool allowArray)
        {
            switch (type)
            {
                case GgufValueType.UInt8: return *Take(1, field);
                case GgufValueType.Int8: return *(sbyte*)Take(1, field);
                case GgufValueType.UInt16: return *(ushort*)Take(2, field);
                case GgufValueType.Int16: return *(short*)Take(2, field);
                case GgufValueType.UInt32: return *(uint*)Take(4, field);
                case GgufValueType.Int32: return *(int*)Take(4, field);
                case GgufValueType.Float32: return *(float*)Take(4, field);
                case GgufValueType.Bool:
                    byte b = *Take(1, field);
                    return b <= 1 ? b == 1 : throw new CheckpointException($"{path}: {field} is a bool stored as {b}");
                case GgufValueType.String: return String(field);
                case GgufValueType.UInt64: return *(ulong*)Take(8, field);
                case GgufValueType.Int64: return *(long*)Take(8, field);
                case GgufValueType.Float64: return *(double*)Take(8, field);
                case GgufValueType.Array when allowArray:
                    var elementType = (GgufValueType)U32(field + " element type");
                    ulong count = U64(field + " count");
                    if (count > (ulong)(length - Position)) throw new CheckpointException($"{path}: {field} claims {count} elements, past the end of the file (truncated?)");
                    var array = Array.CreateInstance(ClrType(elementType, field), (long)count);
                    for (long i = 0; i < (long)count; i++) array.SetValue(Value(elementType, $"{field}[{i}]", allowArray: false), i);
                    return array;
                default:
                    throw new CheckpointException($"{path}: {field} has value type {(uint)type}, which is not a GGUF type{(allowArray ? "" : " allowed in an array")}");
            }
        }

        private Type ClrType(GgufValueType t, string field) => t switch
        {
            GgufValueType.UInt8 => typeof(byte),
            GgufValueType.Int8 => typeof(sbyte),
            GgufValueType.UInt16 => typeof(ushort),
            GgufValueType.Int16 => typeof(short),
            GgufValueType.UInt32 => typeof(uint),
            GgufValueType.Int32 => typeof(int),
            GgufValueType.Float32 => typeof(float),
            GgufValueType.Bool => typeof(bool),
            GgufValueType.String => typeof(string),
            GgufValueType.UInt64 => typeof(ulong),
            GgufValueType.Int64 => typeof(long),
            GgufValueType.Float64 => typeof(double),
            _ => throw new CheckpointException($"{path}: {field} has element type {(uint)t}, not a GGUF array element type"),
        };
    }
}
