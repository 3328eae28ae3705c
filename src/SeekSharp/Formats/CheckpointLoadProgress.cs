namespace SeekSharp.Formats;

/// <summary>
/// Reported by <see cref="Checkpoint.Open"/> after each safetensors file's header has been read and the file mapped.
/// Opening reads headers only, so for a 163-shard DeepSeek-V3 this counts shards, not bytes.
/// </summary>
/// <param name="FilesOpened">Files opened so far, 1 after the first.</param>
/// <param name="TotalFiles">Files the checkpoint consists of.</param>
/// <param name="FilePath">The file just opened.</param>
public sealed record CheckpointLoadProgress(int FilesOpened, int TotalFiles, string FilePath);
