using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Win32.SafeHandles;

namespace SeekSharp.Formats;

/// <summary>
/// Reads and validates a safetensors header: an 8-byte little-endian length N, then N bytes of JSON mapping each
/// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the end of the header), plus
/// an optional "__metadata__" string map. Everything a header claims is checked against the file before any tensor is
/// handed out, so a bad file fails at open with its name and the problem, never later with a crash.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The same cap as Hugging Face's reader: DeepSeek-V3's largest shard header is well under 1 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    /// <summary>The tensors of one file, ordered by data offset, and its metadata.</summary>
    public sealed record Contents(IReadOnlyList<TensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata);

    /// <summary>Reads the header of the open file <paramref name="path"/> of <paramref name="fileLength"/> bytes.</summary>
    public static Contents Read(SafeFileHandle file, string path, long fileLength)
    {
        if (fileLength < 8)
            throw Bad(path, $"is {fileLength} bytes long, too short for the 8-byte header length: truncated, or not a safetensors file");
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(file, path, prefix, 0);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw Bad(path, $"declares a header of {headerLength} bytes, over the {MaxHeaderBytes}-byte limit: not a safetensors file, or corrupt");
        if ((long)headerLength > fileLength - 8)
            throw Bad(path, $"declares a header of {headerLength} bytes but only {fileLength - 8} bytes follow the length: truncated");
        var header = new byte[headerLength];
        ReadExactly(file, path, header, 8);
        long dataStart = 8 + (long)headerLength;
        return Parse(path, header, dataStart, fileLength - dataStart);
    }

    /// <summary>Parses header JSON whose data region starts at <paramref name="dataStart"/> and holds <paramref name="dataLength"/> bytes.</summary>
    public static Contents Parse(string path, byte[] header, long dataStart, long dataLength)
    {
        // JsonDocument checks UTF-8 only when a string is decoded, and then throws InvalidOperationException.
        if (!Utf8.IsValid(header))
            throw Bad(path, "has a header that is not valid UTF-8");
        using var document = ParseJson(path, header);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"has a header that is a JSON {document.RootElement.ValueKind}, not an object");

        var tensors = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                // JSON allows repeated keys and System.Text.Json keeps both; a tensor defined twice is ambiguous.
                if (!seen.Add(entry.Name))
                    throw Bad(path, $"names '{entry.Name}' twice in its header");
                if (entry.Name == MetadataKey)
                    ReadMetadata(path, entry.Value, metadata);
                else
                    tensors.Add(ReadTensor(path, entry.Name, entry.Value, dataStart, dataLength));
            }
        }
        catch (InvalidOperationException e)
        {
            // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws this when it is read.
            throw Bad(path, $"has a header string that is not valid UTF-16 once unescaped (a lone surrogate such as \\ud800): {e.Message}", e);
        }
        CheckNoOverlap(path, tensors);
        return new Contents(tensors, metadata);
    }

    private static JsonDocument ParseJson(string path, byte[] header)
    {
        try
        {
            return JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"has a malformed JSON header ({e.Message})", e);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"has a \"{MetadataKey}\" that is a JSON {value.ValueKind}, not an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Bad(path, $"has \"{MetadataKey}\" entry '{item.Name}' that is a JSON {item.Value.ValueKind}; safetensors metadata values are strings");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static TensorInfo ReadTensor(string path, string name, JsonElement entry, long dataStart, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"has tensor '{name}' whose entry is a JSON {entry.ValueKind}, not an object");
        var dtype = ReadDType(path, name, entry);
        var shape = ReadIntegers(path, name, entry, "shape", expectedCount: null);
        var offsets = ReadIntegers(path, name, entry, "data_offsets", expectedCount: 2);
        long begin = offsets[0], end = offsets[1];

        if (begin > end)
            throw Bad(path, $"has tensor '{name}' with data_offsets [{begin}, {end}]: begin is after end");
        if (end > dataLength)
            throw Bad(path, $"has tensor '{name}' ending at data byte {end} but the data region holds only {dataLength} bytes: truncated");
        if (!ShapeMath.TryElementCount(shape, dtype.SizeInBytes(), out long elements))
            throw Bad(path, $"has tensor '{name}' with shape {ShapeMath.Format(shape)}, whose byte size does not fit in 64 bits");
        long expectedBytes = elements * dtype.SizeInBytes();
        if (end - begin != expectedBytes)
            throw Bad(path, $"has tensor '{name}' {dtype.ToHeaderString()} {ShapeMath.Format(shape)} that needs {expectedBytes} bytes, but its data_offsets [{begin}, {end}] span {end - begin}");
        return new TensorInfo(name, dtype, shape, path, dataStart + begin, end - begin);
    }

    private static TensorDType ReadDType(string path, string name, JsonElement entry)
    {
        if (!entry.TryGetProperty("dtype", out var value) || value.ValueKind != JsonValueKind.String)
            throw Bad(path, $"has tensor '{name}' without a string \"dtype\"");
        string text = value.GetString()!;
        if (!TensorDTypes.TryParseHeaderString(text, out var dtype))
            throw Bad(path, $"has tensor '{name}' of dtype \"{text}\", which SeekSharp does not read (it reads {string.Join(", ", Enum.GetValues<TensorDType>().Select(TensorDTypes.ToHeaderString))})");
        return dtype;
    }

    // Reads an array of non-negative integers ("shape", "data_offsets"); 2.0, -1, "3" and 1e3 are all rejected.
    private static long[] ReadIntegers(string path, string name, JsonElement entry, string field, int? expectedCount)
    {
        if (!entry.TryGetProperty(field, out var value) || value.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"has tensor '{name}' without a \"{field}\" array");
        int count = value.GetArrayLength();
        if (expectedCount is { } expected && count != expected)
            throw Bad(path, $"has tensor '{name}' whose \"{field}\" has {count} numbers instead of {expected}");
        var result = new long[count];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long number) || number < 0)
                throw Bad(path, $"has tensor '{name}' whose \"{field}\" holds {item.GetRawText()}, not a non-negative integer");
            result[i++] = number;
        }
        return result;
    }

    // Sorting by begin (then end, so empty tensors come first) makes overlap a check between neighbours.
    private static void CheckNoOverlap(string path, List<TensorInfo> tensors)
    {
        tensors.Sort((a, b) => a.DataOffset != b.DataOffset
            ? a.DataOffset.CompareTo(b.DataOffset)
            : a.ByteLength.CompareTo(b.ByteLength));
        for (int i = 1; i < tensors.Count; i++)
        {
            var previous = tensors[i - 1];
            var current = tensors[i];
            if (current.DataOffset < previous.DataOffset + previous.ByteLength)
                throw Bad(path, $"has overlapping tensors '{previous.Name}' and '{current.Name}' (file bytes {previous.DataOffset}..{previous.DataOffset + previous.ByteLength} and {current.DataOffset}..{current.DataOffset + current.ByteLength})");
        }
    }

    private static void ReadExactly(SafeFileHandle file, string path, Span<byte> buffer, long offset)
    {
        while (!buffer.IsEmpty)
        {
            int read = RandomAccess.Read(file, buffer, offset);
            if (read == 0) throw Bad(path, "ended while its header was being read: truncated");
            buffer = buffer[read..];
            offset += read;
        }
    }

    private static CheckpointException Bad(string path, string problem, Exception? inner = null) =>
        new($"{path} {problem}", inner);
}
