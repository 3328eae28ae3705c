using System.Buffers.Binary;
using SeekSharp.Formats.Gguf;
using Xunit;

namespace SeekSharp.Tests.Formats;

/// <summary>The GGUF v3 writer and reader: every value type and tensor type round trips; a damaged file is a clean CheckpointException.</summary>
public class GgufFileTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-gguf-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static GgufTensorToWrite Bytes(string name, GgufTensorType type, long[] dims, byte seed)
    {
        long size = type.ByteSize(dims.Aggregate(1L, (a, d) => a * d));
        var data = Enumerable.Range(0, (int)size).Select(i => (byte)(i * 7 + seed)).ToArray();
        return new GgufTensorToWrite(name, type, dims, s => s.Write(data));
    }

    [Fact]
    public unsafe void EveryValueTypeAndTensorTypeRoundTrips()
    {
        string path = Path.Combine(_tmp, "all.gguf");
        var meta = new List<KeyValuePair<string, object>>
        {
            new("u8", (byte)200), new("i8", (sbyte)-5), new("u16", (ushort)60000), new("i16", (short)-300),
            new("u32", 4_000_000_000u), new("i32", -7), new("f32", 1.5f), new("bool", true), new("str", "héllo"),
            new("u64", ulong.MaxValue), new("i64", long.MinValue), new("f64", Math.PI),
            new("strs", new[] { "a", "Ġb", "" }), new("ints", new[] { 1, -2, 3 }), new("floats", new[] { 0.5f }),
            new(GgufWriter.AlignmentKey, 64u),
        };
        var tensors = new[]
        {
            Bytes("a", GgufTensorType.F32, [3], 1),
            Bytes("b", GgufTensorType.F16, [5, 3], 2),
            Bytes("c", GgufTensorType.Q8_0, [64, 2], 3),
            Bytes("d", GgufTensorType.Q4_0, [32, 2, 3], 4),
        };
        GgufWriter.Write(path, meta, tensors);
        Assert.Empty(Directory.GetFiles(_tmp, "*.tmp-*"));
        using var f = GgufFile.Open(path);
        Assert.Equal(3u, f.Version);
        Assert.Equal(64, f.Alignment);
        Assert.Equal(0, f.DataStart % 64);
        foreach (var (key, value) in meta) Assert.Equal(value, f.Metadata[key]);
        Assert.Equal(["a", "b", "c", "d"], f.Tensors.Select(t => t.Name));
        foreach (var (t, i) in f.Tensors.Select((t, i) => (t, i)))
        {
            Assert.Equal(tensors[i].Dims, t.Dims);
            Assert.Equal(tensors[i].Type, t.Type);
            Assert.Equal(0, t.Offset % 64);
            var expected = new MemoryStream();
            tensors[i].WriteData(expected);
            Assert.Equal(expected.ToArray(), new ReadOnlySpan<byte>(f.Address(t), (int)t.ByteSize).ToArray());
        }
        Assert.Equal(4 * 34, f.GetTensor("c").ByteSize);
        Assert.Equal(6 * 18, f.GetTensor("d").ByteSize);
    }

    // One F32 tensor "t" {32, 2}, no metadata: name at 24, n_dims 33, ne0 37, ne1 45, type 53, offset 57, data at 96.
    private byte[] Small()
    {
        string path = Path.Combine(_tmp, "small.gguf");
        GgufWriter.Write(path, [], [Bytes("t", GgufTensorType.F32, [32, 2], 0)]);
        return File.ReadAllBytes(path);
    }

    private string Damaged(byte[] bytes, Action<byte[]> damage)
    {
        var copy = (byte[])bytes.Clone();
        damage(copy);
        string path = Path.Combine(_tmp, $"bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, copy);
        return path;
    }

    [Theory]
    [InlineData("magic", "bad magic")]
    [InlineData("version", "version is 2")]
    [InlineData("tensor_count", "tensor_count")]
    [InlineData("kv_count", "metadata_kv_count")]
    [InlineData("name_length", "tensor 0 name")]
    [InlineData("n_dims", "has 7 dims")]
    [InlineData("ne0", "not a multiple of its block size")]
    [InlineData("ne1", "truncated")]
    [InlineData("type", "ggml type 13")]
    [InlineData("offset_misaligned", "not a multiple of the alignment")]
    [InlineData("offset_beyond", "beyond the end")]
    [InlineData("offset_past_data", "truncated")]
    public void ADamagedHeaderIsACheckpointExceptionNamingFileAndField(string field, string message)
    {
        var good = Small();
        Assert.Equal(96 + 256, good.Length);
        string path = Damaged(good, b =>
        {
            switch (field)
            {
                case "magic": b[0] = (byte)'X'; break;
                case "version": BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 2); break;
                case "tensor_count": BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), 1UL << 40); break;
                case "kv_count": BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), 1UL << 40); break;
                case "name_length": BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), 1UL << 50); break;
                case "n_dims": BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(33), 7); break;
                case "ne0": BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(53), (uint)GgufTensorType.Q8_0); BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(37), 33); break;
                case "ne1": BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(45), 3); break;
                case "type": BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(53), 13); break;
                case "offset_misaligned": BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(57), 4); break;
                case "offset_beyond": BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(57), 1UL << 40); break;
                case "offset_past_data": BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(57), 32); break;
            }
        });
        var e = Assert.Throws<CheckpointException>(() => GgufFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void EveryTruncationIsACleanError()
    {
        var good = Small();
        for (int length = 0; length < good.Length; length += 7)
        {
            string path = Path.Combine(_tmp, $"cut-{length}.gguf");
            File.WriteAllBytes(path, good.AsSpan(0, length).ToArray());
            var e = Assert.Throws<CheckpointException>(() => GgufFile.Open(path));
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void WrongMetadataTypesAndDuplicatesAreRejected()
    {
        string path = Path.Combine(_tmp, "align.gguf");
        GgufWriter.Write(path, [new(GgufWriter.AlignmentKey, 64u)], []);
        var bytes = File.ReadAllBytes(path);
        // general.alignment = 48, not a power of two: key length 8 at 24, key at 32, type at 49, value at 53.
        string bad = Damaged(bytes, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(53), 48));
        Assert.Contains("general.alignment", Assert.Throws<CheckpointException>(() => GgufFile.Open(bad)).Message);
        string badType = Damaged(bytes, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(49), 99));
        Assert.Contains("value type 99", Assert.Throws<CheckpointException>(() => GgufFile.Open(badType)).Message);
        Assert.Throws<CheckpointException>(() => GgufFile.Open(Path.Combine(_tmp, "absent.gguf")));
    }
}
