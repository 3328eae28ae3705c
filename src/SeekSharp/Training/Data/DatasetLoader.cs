using System.Text;
using System.Text.Json;

namespace SeekSharp.Training.Data;

/// <summary>
/// Opens training data in any of the supported forms:
/// <list type="bullet">
/// <item>a JSON file: an array of token-id rows, or an object with a <c>tokens</c> array of rows (the golden grads.json) → <see cref="RowDataset"/>;</item>
/// <item>a <c>.bin</c> file of pre-tokenised ids: llm.c's format (a 256 × int32 header, magic 20240520, version 1 = uint16 ids,
/// version 2 = uint32, then the count) or, without that header, raw little-endian uint16 (nanoGPT's train.bin);</item>
/// <item>a text file, or a folder of text files (every file, in ordinal name order, each a document), tokenised with the
/// model's tokenizer (or UTF-8 bytes when there is none), documents separated by the end-of-sequence id.</item>
/// </list>
/// </summary>
public static class DatasetLoader
{
    public const int BinMagic = 20240520;

    public static TokenDataset Open(string path, int vocabSize, Func<string, int[]>? encode, int? separatorId, double validationFraction)
    {
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            if (files.Length == 0) throw new InvalidInputException($"{path}: the folder has no files.");
            var all = new List<int>();
            foreach (var f in files)
            {
                if (all.Count > 0 && separatorId is { } sep) all.Add(sep);
                all.AddRange(EncodeText(File.ReadAllText(f), encode, f));
            }
            return new StreamDataset(all.ToArray(), validationFraction, vocabSize, path);
        }
        if (!File.Exists(path)) throw new InvalidInputException($"Training data not found: {path}");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext == ".json") return new RowDataset(ReadRows(path), validationFraction, vocabSize, path);
        if (ext == ".bin") return new StreamDataset(ReadBin(path), validationFraction, vocabSize, path);
        return new StreamDataset(EncodeText(File.ReadAllText(path), encode, path), validationFraction, vocabSize, path);
    }

    private static int[] EncodeText(string text, Func<string, int[]>? encode, string source)
    {
        if (text.Length == 0) return [];
        if (encode is not null) return encode(text);
        return Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
    }

    public static int[][] ReadRows(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("tokens", out var t)) root = t;
            if (root.ValueKind != JsonValueKind.Array) throw new InvalidInputException($"{path}: expected a JSON array of token-id rows (or an object with a 'tokens' array).");
            var rows = new List<int[]>();
            int r = 0;
            foreach (var row in root.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array) throw new InvalidInputException($"{path}: row {r} is not an array of token ids.");
                rows.Add(row.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int id) ? id
                    : throw new InvalidInputException($"{path}: row {r} holds '{x}', which is not a token id.")).ToArray());
                r++;
            }
            return rows.ToArray();
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws this when it is read.
            throw new InvalidInputException($"{path}: a string is not valid UTF-16 once unescaped: {e.Message}", e);
        }
    }

    public static int[] ReadBin(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length >= 1024 && BitConverter.ToInt32(bytes, 0) == BinMagic)
        {
            int version = BitConverter.ToInt32(bytes, 4);
            long count = BitConverter.ToInt32(bytes, 8);
            int width = version switch
            {
                1 => 2,
                2 => 4,
                _ => throw new InvalidInputException($"{path}: llm.c token file version {version} is not supported (1 = uint16, 2 = uint32)."),
            };
            if (1024 + count * width != bytes.Length)
                throw new InvalidInputException($"{path}: the header announces {count} tokens of {width} bytes but the file holds {bytes.Length - 1024} bytes of data.");
            var ids = new int[count];
            for (long i = 0; i < count; i++)
            {
                uint id = width == 2 ? BitConverter.ToUInt16(bytes, (int)(1024 + 2 * i)) : BitConverter.ToUInt32(bytes, (int)(1024 + 4 * i));
                if (id > int.MaxValue)
                    throw new InvalidInputException($"{path}: token {i} is {id}, past any vocabulary (ids are below 2^31).");
                ids[i] = (int)id;
            }
            return ids;
        }
        if (bytes.Length % 2 != 0) throw new InvalidInputException($"{path}: a raw uint16 token file must have an even size, this one has {bytes.Length} bytes.");
        var raw = new int[bytes.Length / 2];
        for (int i = 0; i < raw.Length; i++) raw[i] = BitConverter.ToUInt16(bytes, 2 * i);
        return raw;
    }

    /// <summary>Writes ids in llm.c's format (version 1 when every id fits 16 bits, else 2), temporary name then rename.</summary>
    public static void WriteBin(string path, ReadOnlySpan<int> ids)
    {
        bool wide = false;
        foreach (var id in ids) if (id > ushort.MaxValue) { wide = true; break; }
        var tmp = path + ".tmp";
        using (var w = new BinaryWriter(File.Create(tmp)))
        {
            var header = new int[256];
            header[0] = BinMagic; header[1] = wide ? 2 : 1; header[2] = ids.Length;
            foreach (var h in header) w.Write(h);
            foreach (var id in ids)
                if (wide) w.Write((uint)id); else w.Write((ushort)id);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
