using System.IO.MemoryMappedFiles;

namespace SeekSharp.Formats;

/// <summary>
/// One safetensors file, memory-mapped read-only for the source's lifetime. Tensor bytes are handed out as spans
/// over the map, so reading a BF16 weight touches only its own pages and copies nothing.
/// </summary>
internal sealed unsafe class MappedSafetensorsFile : ITensorSource
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, TensorInfo> _tensors;
    private byte* _start;

    private MappedSafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, SafetensorsHeader.Contents contents)
    {
        Location = path;
        _map = map;
        _view = view;
        _tensors = contents.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal); // in offset order
        Tensors = _tensors.AsReadOnly();
        Metadata = contents.Metadata;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _start = pointer + view.PointerOffset;
    }

    public static MappedSafetensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian and SeekSharp reads it in place");
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
            throw new CheckpointException($"{fullPath}: no such file");

        var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 0);
        MemoryMappedFile? map = null;
        try
        {
            // Validate before mapping: a file that is not safetensors is rejected without touching its bulk.
            var contents = SafetensorsHeader.Read(stream.SafeFileHandle, fullPath, stream.Length);
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedSafetensorsFile(fullPath, map, view, contents);
        }
        catch
        {
            if (map is null) stream.Dispose(); else map.Dispose();
            throw;
        }
    }

    public string Location { get; }

    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public TensorInfo Get(string name)
    {
        ObjectDisposedException.ThrowIf(_start == null, this);
        return _tensors.TryGetValue(name, out var info) ? info : throw new MissingTensorException(name, Location);
    }

    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var info = GetSpanSized(name);
        return new ReadOnlySpan<byte>(_start + info.DataOffset, (int)info.ByteLength);
    }

    public ReadOnlyMemory<byte> GetMemory(string name)
    {
        var info = GetSpanSized(name);
        return new MappedMemory(_start + info.DataOffset, (int)info.ByteLength).Memory;
    }

    private TensorInfo GetSpanSized(string name)
    {
        var info = Get(name);
        if (info.ByteLength > int.MaxValue)
            throw new CheckpointException($"{Location}: tensor {info} is {info.ByteLength} bytes, more than one span can hold; read it in pieces with GetBytes(name, offset, count) or ReadFloat32(name, firstElement, destination)");
        return info;
    }

    public ReadOnlySpan<byte> GetBytes(string name, long byteOffset, int byteCount)
    {
        var info = Get(name);
        if (byteOffset < 0 || byteCount < 0 || byteOffset > info.ByteLength - byteCount)
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"{Location}: bytes [{byteOffset}, {byteOffset + byteCount}) are outside tensor {info}, which has {info.ByteLength}");
        return new ReadOnlySpan<byte>(_start + info.DataOffset + byteOffset, byteCount);
    }

    public void ReadFloat32(string name, Span<float> destination) => TensorReads.ReadFloat32(this, name, destination);

    public void ReadFloat32(string name, long firstElement, Span<float> destination) =>
        TensorReads.ReadFloat32(this, name, firstElement, destination);

    public void ReadWeightFloat32(string name, Span<float> destination, int blockRows = 128, int blockCols = 128) =>
        TensorReads.ReadWeightFloat32(this, name, destination, blockRows, blockCols);

    public void Dispose()
    {
        if (_start == null) return;
        _start = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    public override string ToString() => $"{Location} ({_tensors.Count} tensors)";
}
