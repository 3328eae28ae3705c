using System.Buffers.Binary;
using System.Text;

namespace SeekSharp.Tests.Formats;

/// <summary>Fixtures for the format tests: the golden checkpoints, a scratch folder, and hand-crafted files.</summary>
internal static class FormatsTestFiles
{
    public static string GoldenFolder(string name = "v3_yarn_f32") => Path.Combine(AppContext.BaseDirectory, "Data", "golden", name);

    public static string GoldenModel(string name = "v3_yarn_f32") => Path.Combine(GoldenFolder(name), "model.safetensors");

    /// <summary>
    /// A safetensors file's bytes with the given header JSON (padded with spaces to a multiple of 8 unless told not to)
    /// followed by <paramref name="dataBytes"/> bytes of data 0, 1, 2, ...; <paramref name="declaredHeaderLength"/>
    /// overrides the length prefix to craft a lying file.
    /// </summary>
    public static byte[] Craft(string headerJson, int dataBytes, ulong? declaredHeaderLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson).ToList();
        while (header.Count % 8 != 0) header.Add((byte)' ');
        var file = new byte[8 + header.Count + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declaredHeaderLength ?? (ulong)header.Count);
        header.CopyTo(file, 8);
        for (int i = 0; i < dataBytes; i++) file[8 + header.Count + i] = (byte)i;
        return file;
    }
}

/// <summary>A fresh folder under the temp directory, deleted with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "seeksharp-formats-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="bytes"/> to a file in this folder and returns its path.</summary>
    public string Write(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
