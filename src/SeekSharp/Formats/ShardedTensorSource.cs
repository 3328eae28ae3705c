namespace SeekSharp.Formats;

/// <summary>
/// Several safetensors files seen as one checkpoint (DeepSeek-V3 ships 163 shards). Each name must live in exactly
/// one file; when the checkpoint has an index, every name the index places in a shard must be in that shard.
/// </summary>
internal sealed class ShardedTensorSource : ITensorSource
{
    private readonly IReadOnlyList<ITensorSource> _shards;
    private readonly Dictionary<string, ITensorSource> _shardOf;
    private readonly Dictionary<string, TensorInfo> _tensors;
    private bool _disposed;

    /// <param name="location">The folder or index file, for messages.</param>
    /// <param name="shards">Opened files, in the order their tensors are listed; disposed with this source.</param>
    /// <param name="weightMap">The index's tensor → shard full path, or null when the folder has no index.</param>
    public ShardedTensorSource(string location, IReadOnlyList<ITensorSource> shards, IReadOnlyDictionary<string, string>? weightMap)
    {
        Location = location;
        _shards = shards;
        _shardOf = new Dictionary<string, ITensorSource>(StringComparer.Ordinal);
        _tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var shard in shards)
        {
            foreach (var (name, info) in shard.Tensors)
            {
                if (_shardOf.TryGetValue(name, out var first))
                    throw new CheckpointException($"{location}: tensor '{name}' is in two shards, {first.Location} and {shard.Location}");
                _shardOf.Add(name, shard);
                _tensors.Add(name, info);
            }
            // Shards of one save carry the same metadata; if they disagree, the first shard (in name order) wins.
            foreach (var (key, value) in shard.Metadata)
                metadata.TryAdd(key, value);
        }
        if (weightMap is not null) CheckAgainstIndex(weightMap);
        Tensors = _tensors.AsReadOnly();
        Metadata = metadata.AsReadOnly();
    }

    // The index is what tools like HF's loader trust to find a tensor; a disagreement means a half-copied or mixed folder.
    private void CheckAgainstIndex(IReadOnlyDictionary<string, string> weightMap)
    {
        foreach (var (name, shardPath) in weightMap)
        {
            if (!_shardOf.TryGetValue(name, out var shard))
                throw new CheckpointException($"{Location}: the index places tensor '{name}' in {shardPath}, which does not contain it");
            if (shard.Location != shardPath)
                throw new CheckpointException($"{Location}: the index places tensor '{name}' in {shardPath}, but it is in {shard.Location}");
        }
    }

    public string Location { get; }

    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public TensorInfo Get(string name) => ShardOf(name).Get(name);

    public ReadOnlySpan<byte> GetBytes(string name) => ShardOf(name).GetBytes(name);

    public ReadOnlySpan<byte> GetBytes(string name, long byteOffset, int byteCount) =>
        ShardOf(name).GetBytes(name, byteOffset, byteCount);

    public ReadOnlyMemory<byte> GetMemory(string name) => ShardOf(name).GetMemory(name);

    public void ReadFloat32(string name, Span<float> destination) => TensorReads.ReadFloat32(this, name, destination);

    public void ReadFloat32(string name, long firstElement, Span<float> destination) =>
        TensorReads.ReadFloat32(this, name, firstElement, destination);

    public void ReadWeightFloat32(string name, Span<float> destination, int blockRows = 128, int blockCols = 128) =>
        TensorReads.ReadWeightFloat32(this, name, destination, blockRows, blockCols);

    private ITensorSource ShardOf(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _shardOf.TryGetValue(name, out var shard) ? shard : throw new MissingTensorException(name, Location);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var shard in _shards) shard.Dispose();
    }

    public override string ToString() => $"{Location} ({_shards.Count} files, {_tensors.Count} tensors)";
}
