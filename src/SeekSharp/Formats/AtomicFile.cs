namespace SeekSharp.Formats;

/// <summary>
/// Writes a file so that readers see either the old file or the complete new one, never a half-written one: the
/// bytes go to "path.tmp-&lt;random&gt;" in the same folder, are flushed to disk, and the temporary file is renamed over
/// <c>path</c> (an atomic rename on Linux and macOS). On any failure or cancellation the temporary file is deleted and
/// <c>path</c> is left as it was.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<FileStream> writeContents, CancellationToken cancellationToken)
    {
        string fullPath = Path.GetFullPath(path);
        string temporary = $"{fullPath}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                writeContents(stream);
                cancellationToken.ThrowIfCancellationRequested();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original error matters more than a leftover temporary file, whose name says what it is.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
