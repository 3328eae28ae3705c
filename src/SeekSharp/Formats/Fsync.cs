using System.Runtime.InteropServices;

namespace SeekSharp.Formats;

/// <summary>
/// Forces what was written to a file, or a folder's entries (names created, renamed or deleted in it), to disk, so that a
/// power cut or kernel crash after the call cannot lose them. A rename is durable only once its folder is synced: that is
/// what makes "write to a temporary name, sync, rename, sync the folder" crash-safe (ext4, xfs and btrfs all need it).
/// On Linux and macOS both use fsync(2) on a read-only descriptor; on Windows a file is flushed with FlushFileBuffers and a
/// folder is not synced (NTFS journals renames, and Windows cannot open a folder for flushing).
/// </summary>
internal static partial class Fsync
{
    public static void File(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            stream.Flush(flushToDisk: true);
            return;
        }
        Sync(path);
    }

    public static void Directory(string path)
    {
        if (!OperatingSystem.IsWindows()) Sync(path);
    }

    private const int ReadOnly = 0;   // O_RDONLY, 0 on Linux and macOS

    private static void Sync(string path)
    {
        int fd = Open(path, ReadOnly);
        if (fd < 0) throw Error("open", path);
        try
        {
            if (FsyncFd(fd) != 0) throw Error("fsync", path);
        }
        finally
        {
            Close(fd);
        }
    }

    private static IOException Error(string call, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncFd(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
