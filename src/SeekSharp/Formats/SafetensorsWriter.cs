using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SeekSharp.Formats;

/// <summary>
/// Writes safetensors files that Hugging Face's <c>safetensors</c> library reads: an 8-byte little-endian header
/// length, a JSON header padded with spaces to a multiple of 8 bytes, then the tensors back to back in header order.
/// </summary>
/// <remarks>
/// Layout is deterministic and the same as Hugging Face's serialiser: tensors sorted by element size, largest first,
/// then by name (ordinal). Besides making equal inputs give equal files whatever the order they came in, this puts
/// every tensor at an offset that is a multiple of its element size, so memory-mapped readers get aligned data.
/// Data is streamed in chunks of 64 Ki elements to "path.tmp-&lt;random&gt;" and renamed over the target at the end,
/// so writing a model of many gigabytes needs a few hundred kilobytes of memory, and a crash or a cancellation leaves
/// the previous file intact. On Windows the rename fails while another process has the target open.
/// </remarks>
public static partial class SafetensorsWriter
{
    /// <summary>Hugging Face's single-file name, which <see cref="Checkpoint.Open"/> looks for first.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>
    /// Writes <paramref name="tensors"/> to the file <paramref name="path"/>, with an optional <c>__metadata__</c>
    /// string map (Hugging Face's own files carry {"format": "pt"}).
    /// </summary>
    /// <exception cref="ArgumentException">Two tensors share a name.</exception>
    public static void Write(string path, IEnumerable<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var ordered = InFileOrder(CheckNames(tensors));
        byte[] header = Header(ordered, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            var buffers = new TensorToWrite.WriteBuffers();
            foreach (var tensor in ordered)
                tensor.WriteData(stream, buffers, cancellationToken);
        }, cancellationToken);
    }

    /// <summary>
    /// Writes a checkpoint folder the way Hugging Face's <c>save_pretrained</c> does: tensors in name order are packed
    /// into shards of at most <paramref name="maxShardBytes"/> of tensor data (a larger tensor gets a shard of its
    /// own), written as <c>model-00001-of-0000N.safetensors</c> … with <c>model.safetensors.index.json</c> written last;
    /// if everything fits in one shard, a single <c>model.safetensors</c> and no index. Files of an earlier save in the
    /// folder that would contradict the new one (<c>model.safetensors</c>, the index, and <c>model-NNNNN-of-NNNNN.safetensors</c>
    /// shards not written now) are deleted afterwards, so <see cref="Checkpoint.Open"/> cannot pick up stale weights.
    /// Each shard carries <paramref name="metadata"/>.
    /// </summary>
    /// <returns>The files written, index last.</returns>
    public static IReadOnlyList<string> WriteSharded(string directory, IEnumerable<TensorToWrite> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        string folder = Path.GetFullPath(directory);
        Directory.CreateDirectory(folder);
        var shards = PackShards(CheckNames(tensors).OrderBy(t => t.Name, StringComparer.Ordinal), maxShardBytes);

        var written = new List<string>();
        if (shards.Count <= 1)
        {
            string file = Path.Combine(folder, SingleFileName);
            Write(file, shards.Count == 0 ? [] : shards[0], metadata, cancellationToken);
            written.Add(file);
        }
        else
        {
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < shards.Count; i++)
            {
                string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                Write(Path.Combine(folder, name), shards[i], metadata, cancellationToken);
                written.Add(Path.Combine(folder, name));
                foreach (var tensor in shards[i]) weightMap[tensor.Name] = name;
            }
            string index = Path.Combine(folder, SafetensorsIndex.FileName);
            SafetensorsIndex.Write(index, weightMap, shards.Sum(s => s.Sum(t => t.ByteLength)), cancellationToken);
            written.Add(index);
        }
        DeleteStaleFiles(folder, written);
        return written;
    }

    private static List<List<TensorToWrite>> PackShards(IEnumerable<TensorToWrite> tensors, long maxShardBytes)
    {
        var shards = new List<List<TensorToWrite>>();
        long currentBytes = 0;
        foreach (var tensor in tensors)
        {
            if (shards.Count == 0 || (shards[^1].Count > 0 && currentBytes + tensor.ByteLength > maxShardBytes))
            {
                shards.Add([]);
                currentBytes = 0;
            }
            shards[^1].Add(tensor);
            currentBytes += tensor.ByteLength;
        }
        return shards;
    }

    private static void DeleteStaleFiles(string folder, List<string> written)
    {
        var keep = new HashSet<string>(written, StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            string name = Path.GetFileName(file);
            bool ours = name == SingleFileName || name == SafetensorsIndex.FileName || ShardName().IsMatch(name);
            if (ours && !keep.Contains(file)) File.Delete(file);
        }
    }

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();

    private static List<TensorToWrite> CheckNames(IEnumerable<TensorToWrite> tensors)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in list)
        {
            ArgumentNullException.ThrowIfNull(tensor, nameof(tensors));
            if (!names.Add(tensor.Name))
                throw new ArgumentException($"tensor '{tensor.Name}' is given twice; a file holds each name once", nameof(tensors));
        }
        return list;
    }

    // Hugging Face's order: element size descending, then name. See the class remarks for why.
    private static List<TensorToWrite> InFileOrder(IEnumerable<TensorToWrite> tensors) =>
        tensors.OrderByDescending(t => t.DType.SizeInBytes()).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();

    /// <summary>The header JSON, padded with spaces so that the data starts at a multiple of 8 bytes.</summary>
    private static byte[] Header(List<TensorToWrite> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names such as "a+b" readable; the output is valid JSON either way.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var tensor in ordered)
            {
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType.ToHeaderString());
                json.WriteStartArray("shape");
                foreach (var dim in tensor.Shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.ByteLength;
            }
            json.WriteEndObject();
        }
        if (buffer.WrittenCount > SafetensorsHeader.MaxHeaderBytes)
            throw new ArgumentException($"the header of {ordered.Count} tensors would be {buffer.WrittenCount} bytes, over the {SafetensorsHeader.MaxHeaderBytes}-byte limit readers enforce; write shards instead");
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
