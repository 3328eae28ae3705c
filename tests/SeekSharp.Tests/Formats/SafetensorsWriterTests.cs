using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SeekSharp.Formats;
using SeekSharp.Tensors.Kernels;
using Xunit;

namespace SeekSharp.Tests.Formats;

public class SafetensorsWriterTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(TensorDType.F32)]
    [InlineData(TensorDType.F64)]
    [InlineData(TensorDType.F16)]
    [InlineData(TensorDType.BF16)]
    [InlineData(TensorDType.F8_E4M3)]
    public void FloatData_RoundTripsThroughEveryFloatDType(TensorDType dtype)
    {
        var values = Enumerable.Range(0, 3 * 37).Select(i => MathF.Sin(i) * 3 + 0.001f * i).ToArray();
        string path = _folder.File("round.safetensors");
        SafetensorsWriter.Write(path, [TensorToWrite.FromFloat32("w", dtype, [3, 37], values)]);

        using var source = SafetensorsFile.Open(path);
        var info = source.Get("w");
        Assert.Equal(dtype, info.DType);
        Assert.Equal(new long[] { 3, 37 }, info.Shape);
        var back = new float[values.Length];
        source.ReadFloat32("w", back);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(StoredAs(dtype, values[i]), back[i]);
    }

    [Theory]
    [InlineData(TensorDType.I64)]
    [InlineData(TensorDType.I32)]
    [InlineData(TensorDType.I16)]
    [InlineData(TensorDType.I8)]
    [InlineData(TensorDType.U8)]
    [InlineData(TensorDType.BOOL)]
    [InlineData(TensorDType.BF16)]
    public void RawBytes_RoundTripForAnyDType(TensorDType dtype)
    {
        var bytes = Enumerable.Range(0, 5 * dtype.SizeInBytes()).Select(i => (byte)(i * 7 % 2)).ToArray();
        string path = _folder.File("raw.safetensors");
        SafetensorsWriter.Write(path, [TensorToWrite.FromBytes("t", dtype, [5], bytes)]);
        using var source = SafetensorsFile.Open(path);
        Assert.Equal(bytes, source.GetBytes("t").ToArray());
    }

    [Fact]
    public void ChunkCallbacks_StreamMoreThanOneChunk()
    {
        const int elements = 150_000, rawBytes = 1_300_000; // more than one 64 Ki-element / 512 KiB chunk
        var seenChunks = new List<(long First, int Length)>();
        var floats = TensorToWrite.FromFloat32("f", TensorDType.BF16, [elements], (first, chunk) =>
        {
            seenChunks.Add((first, chunk.Length));
            for (int i = 0; i < chunk.Length; i++) chunk[i] = (first + i) % 256; // integers below 256 are exact in BF16
        });
        var raw = TensorToWrite.FromBytes("r", TensorDType.U8, [rawBytes], (first, chunk) =>
        {
            for (int i = 0; i < chunk.Length; i++) chunk[i] = (byte)((first + i) % 251);
        });
        string path = _folder.File("chunks.safetensors");
        SafetensorsWriter.Write(path, [floats, raw]);

        Assert.True(seenChunks.Count > 1);
        Assert.Equal(elements, seenChunks.Sum(c => c.Length));
        Assert.Equal(seenChunks.Select(c => c.First), seenChunks.Select(c => c.First).Order());
        using var source = SafetensorsFile.Open(path);
        var back = new float[elements];
        source.ReadFloat32("f", back);
        for (int i = 0; i < elements; i++) Assert.Equal(i % 256, back[i]);
        var rawBack = source.GetBytes("r");
        for (int i = 0; i < rawBytes; i++) Assert.Equal((byte)(i % 251), rawBack[i]);
    }

    [Fact]
    public void SameDataUnderTwoNames_IsStoredTwice()
    {
        var embedding = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        string path = _folder.File("shared.safetensors");
        SafetensorsWriter.Write(path,
        [
            TensorToWrite.FromFloat32("model.embed_tokens.weight", TensorDType.BF16, [3, 4], embedding),
            TensorToWrite.FromFloat32("model.layers.3.embed_tokens.weight", TensorDType.BF16, [3, 4], embedding),
        ]);
        using var source = SafetensorsFile.Open(path);
        Assert.True(source.GetBytes("model.embed_tokens.weight").SequenceEqual(source.GetBytes("model.layers.3.embed_tokens.weight")));
        Assert.NotEqual(source.Get("model.embed_tokens.weight").DataOffset, source.Get("model.layers.3.embed_tokens.weight").DataOffset);
    }

    [Fact]
    public void Output_IsDeterministicWhateverTheInputOrder()
    {
        var tensors = MixedTensors();
        SafetensorsWriter.Write(_folder.File("a.safetensors"), tensors, new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" });
        SafetensorsWriter.Write(_folder.File("b.safetensors"), tensors.AsEnumerable().Reverse(), new Dictionary<string, string> { ["a"] = "2", ["z"] = "1" });
        Assert.Equal(File.ReadAllBytes(_folder.File("a.safetensors")), File.ReadAllBytes(_folder.File("b.safetensors")));
    }

    [Fact]
    public void Header_IsWhatHuggingFaceWrites()
    {
        string path = _folder.File("hf.safetensors");
        SafetensorsWriter.Write(path, MixedTensors(), new Dictionary<string, string> { ["format"] = "pt" });
        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);

        // Padded with spaces so that data starts at a multiple of 8; starts with '{'.
        Assert.Equal(0, (8 + headerLength) % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\"},", header);
        Assert.EndsWith("}", header.TrimEnd(' '));

        // Tensors back to back from offset 0, in HF's order (element size descending, then name), to the end of the file.
        using var json = JsonDocument.Parse(header);
        var entries = json.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
        Assert.Equal(["c64", "a32", "b32", "d16", "e8"], entries.Select(e => e.Name));
        long expectedBegin = 0;
        foreach (var entry in entries)
        {
            Assert.Equal(["dtype", "shape", "data_offsets"], entry.Value.EnumerateObject().Select(p => p.Name));
            var offsets = entry.Value.GetProperty("data_offsets");
            Assert.Equal(expectedBegin, offsets[0].GetInt64());
            expectedBegin = offsets[1].GetInt64();
        }
        Assert.Equal(bytes.Length, 8 + headerLength + expectedBegin);

        // Every tensor aligned to its element size.
        using var source = SafetensorsFile.Open(path);
        Assert.All(source.Tensors.Values, t => Assert.Equal(0, t.DataOffset % t.DType.SizeInBytes()));
    }

    [Fact]
    public void Metadata_RoundTrips()
    {
        string path = _folder.File("meta.safetensors");
        SafetensorsWriter.Write(path, [], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" });
        using var source = SafetensorsFile.Open(path);
        Assert.Empty(source.Tensors);
        Assert.Equal("ünïcode \"quoted\"", source.Metadata["note"]);
    }

    [Fact]
    public void Golden_CopiedTensorByTensor_ReadsBackEqual()
    {
        using var golden = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        string path = _folder.File("copy.safetensors");
        SafetensorsWriter.Write(path, golden.Tensors.Keys.Select(name => TensorToWrite.CopyOf(golden, name)), golden.Metadata);
        using var copy = SafetensorsFile.Open(path);
        Assert.Equal(golden.Tensors.Keys.Order(), copy.Tensors.Keys.Order());
        foreach (var name in golden.Tensors.Keys)
            Assert.True(golden.GetBytes(name).SequenceEqual(copy.GetBytes(name)), name);
        Assert.Equal(DataLength(FormatsTestFiles.GoldenModel()), DataLength(path));
    }

    [Fact]
    public void Write_ReplacesAnExistingFileAndLeavesNoTemporaryFile()
    {
        string path = _folder.File("model.safetensors");
        File.WriteAllText(path, "old");
        SafetensorsWriter.Write(path, MixedTensors());
        using (var source = SafetensorsFile.Open(path)) Assert.Equal(5, source.Tensors.Count);
        Assert.Equal(["model.safetensors"], Directory.GetFiles(_folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FailureWhileWriting_KeepsTheOldFileAndRemovesTheTemporaryOne()
    {
        string path = _folder.File("model.safetensors");
        File.WriteAllText(path, "old");
        var failing = TensorToWrite.FromFloat32("x", TensorDType.F32, [10], (_, _) => throw new InvalidOperationException("source broke"));
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [failing]));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_folder.Path));
    }

    [Fact]
    public void Cancellation_KeepsTheOldFileAndRemovesTheTemporaryOne()
    {
        string path = _folder.File("model.safetensors");
        File.WriteAllText(path, "old");
        using var cancel = new CancellationTokenSource();
        var tensor = TensorToWrite.FromFloat32("x", TensorDType.F32, [200_000], (first, chunk) =>
        {
            chunk.Clear();
            if (first > 0) cancel.Cancel(); // cancel after the first chunk is out
        });
        Assert.ThrowsAny<OperationCanceledException>(() => SafetensorsWriter.Write(path, [tensor], cancellationToken: cancel.Token));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_folder.Path));
    }

    [Fact]
    public void DuplicateNames_AreRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(_folder.File("dup.safetensors"),
            [TensorToWrite.FromBytes("a", TensorDType.U8, [1], new byte[1]), TensorToWrite.FromBytes("a", TensorDType.U8, [1], new byte[1])]));
        Assert.Contains("'a'", error.Message);
    }

    [Fact]
    public void TensorToWrite_ValidatesItsData()
    {
        Assert.Throws<ArgumentException>(() => TensorToWrite.FromFloat32("a", TensorDType.F32, [2, 3], new float[5]));
        Assert.Throws<ArgumentException>(() => TensorToWrite.FromBytes("a", TensorDType.F32, [2], new byte[7]));
        Assert.Throws<ArgumentException>(() => TensorToWrite.FromFloat32("a", TensorDType.I32, [1], new float[1]));
        Assert.Throws<ArgumentException>(() => TensorToWrite.FromFloat32("a", TensorDType.F32, [-1], Array.Empty<float>()));
        Assert.Throws<ArgumentException>(() => TensorToWrite.FromFloat32("a", TensorDType.F32, [1L << 40, 1L << 40], (_, _) => { }));
        Assert.Throws<ArgumentException>(() => TensorToWrite.FromBytes("__metadata__", TensorDType.U8, [0], ReadOnlyMemory<byte>.Empty));
    }

    internal static TensorToWrite[] MixedTensors() =>
    [
        TensorToWrite.FromFloat32("b32", TensorDType.F32, [3], new float[] { 1, 2, 3 }),
        TensorToWrite.FromFloat32("d16", TensorDType.BF16, [3], new float[] { 4, 5, 6 }),
        TensorToWrite.FromBytes("e8", TensorDType.F8_E4M3, [3], new byte[] { 0x38, 0x7E, 0x01 }),
        TensorToWrite.FromFloat32("a32", TensorDType.F32, [1], new float[] { 7 }),
        TensorToWrite.FromFloat32("c64", TensorDType.F64, [2], new float[] { 8, 9 }),
    ];

    // Bytes after the header: the tensors.
    private static long DataLength(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        return stream.Length - 8 - (long)BinaryPrimitives.ReadUInt64LittleEndian(prefix);
    }

    // What a float32 value becomes once stored as dtype and read back.
    private static float StoredAs(TensorDType dtype, float value) => dtype switch
    {
        TensorDType.F32 or TensorDType.F64 => value,
        TensorDType.F16 => (float)(Half)value,
        TensorDType.BF16 => FloatFormats.BFloat16ToFloat32(FloatFormats.Float32ToBFloat16(value)),
        TensorDType.F8_E4M3 => FloatFormats.E4M3ToFloat32(FloatFormats.Float32ToE4M3(value)),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}
