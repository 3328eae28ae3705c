namespace SeekSharp.Formats;

/// <summary>Opens one .safetensors file as an <see cref="ITensorSource"/>.</summary>
public static class SafetensorsFile
{
    /// <summary>
    /// Reads and validates the header of <paramref name="path"/> and memory-maps the file; no tensor bytes are read
    /// until asked for. The file stays open (and mapped) until the returned source is disposed.
    /// </summary>
    /// <exception cref="CheckpointException">The file is missing, truncated, or its header is invalid; the message names the file and the problem.</exception>
    public static ITensorSource Open(string path) => MappedSafetensorsFile.Open(path);
}
