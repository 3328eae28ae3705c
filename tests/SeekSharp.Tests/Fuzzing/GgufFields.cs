using System.Buffers.Binary;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Where a GGUF file's header fields lie, for aimed mutations (<see cref="GgufFuzzTests"/>): every count, length, type,
/// dimension, offset and scalar value as (offset, width), and every string value with its key. The walk stops quietly
/// where the file stops making sense (a mutated input), returning what it found so far.
/// </summary>
internal sealed class GgufFields
{
    /// <summary>An integer field: its byte offset and width (1, 2, 4 or 8).</summary>
    public readonly record struct Number(int Offset, int Width);

    /// <summary>A string value: its key, where its u64 length is, where its bytes start and how many there are.</summary>
    public readonly record struct Text(string Key, int LengthAt, int Start, int Length);

    public List<Number> Numbers { get; } = [];
    public List<Text> Strings { get; } = [];

    /// <summary>The end of the tensor infos (the data section starts at the next multiple of <see cref="Alignment"/>); null when the walk stopped early.</summary>
    public int? HeaderEnd { get; private set; }

    public int Alignment { get; private set; } = 32;

    /// <summary>Array elements recorded per array (strings' lengths, numbers): the first few are enough to aim at.</summary>
    private const int ElementsPerArray = 3;

    public static GgufFields Walk(byte[] file)
    {
        var fields = new GgufFields();
        try
        {
            fields.WalkHeader(file);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException or InvalidDataException)
        {
            // A mutated file: keep what was found.
        }
        return fields;
    }

    private void WalkHeader(byte[] file)
    {
        int at = 8;   // magic, version
        int tensors = checked((int)Read(file, ref at, 8, record: true));
        int kvs = checked((int)Read(file, ref at, 8, record: true));
        for (int i = 0; i < kvs; i++)
        {
            string key = ReadString(file, ref at, key: null);
            uint type = (uint)Read(file, ref at, 4, record: true);
            if (type == 9)
            {
                uint element = (uint)Read(file, ref at, 4, record: true);
                long count = (long)Read(file, ref at, 8, record: true);
                for (long j = 0; j < count; j++) Value(file, ref at, element, key, record: j < ElementsPerArray);
            }
            else
            {
                ulong value = Value(file, ref at, type, key, record: true);
                if (key == "general.alignment" && type == 4 && value is > 0 and <= 1 << 20) Alignment = (int)value;
            }
        }
        for (int i = 0; i < tensors; i++)
        {
            ReadString(file, ref at, key: null);
            uint dims = (uint)Read(file, ref at, 4, record: true);
            if (dims > 8) throw new InvalidDataException();
            for (int d = 0; d < dims; d++) Read(file, ref at, 8, record: true);
            Read(file, ref at, 4, record: true);   // ggml type
            Read(file, ref at, 8, record: true);   // offset
        }
        HeaderEnd = at;
    }

    private ulong Value(byte[] file, ref int at, uint type, string key, bool record)
    {
        int width = type switch
        {
            0 or 1 or 7 => 1,
            2 or 3 => 2,
            4 or 5 or 6 => 4,
            10 or 11 or 12 => 8,
            8 => 0,
            _ => throw new InvalidDataException(),
        };
        if (width == 0)
        {
            ReadString(file, ref at, key, record);
            return 0;
        }
        return Read(file, ref at, width, record: record && type is not (6 or 12));   // floats are left to byte edits
    }

    private string ReadString(byte[] file, ref int at, string? key, bool record = true)
    {
        int lengthAt = at;
        int length = checked((int)Read(file, ref at, 8, record));
        if (length < 0 || at + length > file.Length) throw new InvalidDataException();
        string text = System.Text.Encoding.UTF8.GetString(file, at, length);
        if (key is not null) Strings.Add(new Text(key, lengthAt, at, length));
        at += length;
        return text;
    }

    private ulong Read(byte[] file, ref int at, int width, bool record)
    {
        if (at + width > file.Length) throw new InvalidDataException();
        if (record) Numbers.Add(new Number(at, width));
        ulong value = width switch
        {
            1 => file[at],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at)),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(at)),
        };
        at += width;
        return value;
    }

    /// <summary>
    /// <paramref name="file"/> with the string <paramref name="text"/> replaced by <paramref name="replacement"/>: its length
    /// prefix rewritten and the data section moved to the next multiple of <paramref name="alignment"/> after the header,
    /// so the file stays well-formed and the edit reaches the reader of the string.
    /// </summary>
    public static byte[] ReplaceString(byte[] file, Text text, byte[] replacement, int headerEnd, int alignment)
    {
        long dataStart = (headerEnd + alignment - 1) / alignment * alignment;
        if (dataStart > file.Length) return file;
        var header = new List<byte>(file.AsSpan(0, headerEnd).ToArray());
        header.RemoveRange(text.Start, text.Length);
        header.InsertRange(text.Start, replacement);
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)replacement.Length);
        for (int i = 0; i < 8; i++) header[text.LengthAt + i] = length[i];
        while (header.Count % alignment != 0) header.Add(0);
        return [.. header, .. file.AsSpan((int)dataStart)];
    }
}
