using System.Buffers.Binary;
using System.Text.Json;
using SeekSharp.Formats;
using Xunit;

namespace SeekSharp.Tests.Formats;

public class SafetensorsFileTests
{
    [Fact]
    public void Golden_HasTheExpectedTensors()
    {
        using var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        Assert.Equal(207, source.Tensors.Count); // 208 header entries less "__metadata__"
        Assert.Equal("pt", source.Metadata["format"]);

        var bias = source.Get("model.layers.1.mlp.gate.e_score_correction_bias");
        Assert.Equal(TensorDType.F32, bias.DType);
        Assert.Equal(new long[] { 16 }, bias.Shape);

        var embedding = source.Get("model.embed_tokens.weight");
        Assert.Equal(new long[] { 512, 64 }, embedding.Shape);
        Assert.Equal(512 * 64, embedding.ElementCount);
        Assert.Equal(512 * 64 * 4, embedding.ByteLength);
        Assert.Equal(Path.GetFullPath(FormatsTestFiles.GoldenModel()), embedding.FilePath);
    }

    [Fact]
    public void Golden_ValuesMatchAnIndependentReadOfTheFile()
    {
        // Parse the file by hand: header length, JSON, offsets relative to the end of the header.
        var bytes = File.ReadAllBytes(FormatsTestFiles.GoldenModel());
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var offsets = header.RootElement.GetProperty("model.layers.0.mlp.down_proj.weight").GetProperty("data_offsets");
        int begin = 8 + (int)headerLength + offsets[0].GetInt32();

        using var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        var values = new float[64 * 128];
        source.ReadFloat32("model.layers.0.mlp.down_proj.weight", values);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(begin + 4 * i)), values[i]);
        Assert.True(source.GetBytes("model.layers.0.mlp.down_proj.weight").SequenceEqual(bytes.AsSpan(begin, values.Length * 4)));
    }

    [Fact]
    public void Tensors_EnumerateInFileOrder()
    {
        using var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        var offsets = source.Tensors.Values.Select(t => t.DataOffset).ToList();
        Assert.Equal(offsets.Order(), offsets);
    }

    [Fact]
    public void ReadFloat32_Range_ReadsRowsOfATensor()
    {
        using var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        var all = new float[512 * 64];
        source.ReadFloat32("model.embed_tokens.weight", all);
        var rows = new float[3 * 64];
        source.ReadFloat32("model.embed_tokens.weight", firstElement: 100 * 64, rows);
        Assert.Equal(all.AsSpan(100 * 64, 3 * 64).ToArray(), rows);
        Assert.True(source.GetBytes("model.embed_tokens.weight", 400, 12).SequenceEqual(source.GetBytes("model.embed_tokens.weight").Slice(400, 12)));
    }

    [Fact]
    public void ReadFloat32_RangePastTheEnd_Throws()
    {
        using var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => source.ReadFloat32("model.norm.weight", 60, new float[5]));
        Assert.Contains("model.norm.weight", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => source.GetBytes("model.norm.weight", 250, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => source.GetBytes("model.norm.weight", -1, 1));
    }

    [Fact]
    public void ReadFloat32_WrongDestinationLength_NamesTheTensor()
    {
        using var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        var error = Assert.Throws<ArgumentException>(() => source.ReadFloat32("model.norm.weight", new float[63]));
        Assert.Contains("model.norm.weight", error.Message);
        Assert.Contains("63", error.Message);
    }

    [Fact]
    public void Get_MissingTensor_ThrowsMissingTensorExceptionNamingItAndTheFile()
    {
        using var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        var error = Assert.Throws<MissingTensorException>(() => source.Get("model.layers.61.enorm.weight"));
        Assert.Equal("model.layers.61.enorm.weight", error.TensorName);
        Assert.Contains("model.layers.61.enorm.weight", error.Message);
        Assert.Contains("model.safetensors", error.Message);
        Assert.Throws<MissingTensorException>(() => source.GetBytes("nope"));
        Assert.Throws<MissingTensorException>(() => source.ReadFloat32("nope", Span<float>.Empty));
    }

    [Fact]
    public void AfterDispose_ReadsThrowObjectDisposed()
    {
        var source = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        source.Dispose();
        source.Dispose(); // twice is fine
        Assert.Throws<ObjectDisposedException>(() => source.Get("model.norm.weight"));
        Assert.Throws<ObjectDisposedException>(() => source.GetBytes("model.norm.weight").Length);
    }

    [Fact]
    public void ReadFloat32_OfAnIntegerTensor_IsACheckpointError()
    {
        using var folder = new TempFolder();
        string path = folder.Write("ints.safetensors",
            FormatsTestFiles.Craft("""{"ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}""", 8));
        using var source = SafetensorsFile.Open(path);
        var error = Assert.Throws<CheckpointException>(() => source.ReadFloat32("ids", new float[2]));
        Assert.Contains("ids", error.Message);
        Assert.Contains("GetBytes", error.Message);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7 }, source.GetBytes("ids").ToArray());
    }

    [Fact]
    public void GetMemory_IsTheSameBytesAsGetBytes()
    {
        using var source = Checkpoint.Open(FormatsTestFiles.GoldenFolder());
        ReadOnlyMemory<byte> kept = source.GetMemory("model.norm.weight");
        Assert.Equal(256, kept.Length);
        Assert.True(kept.Span.SequenceEqual(source.GetBytes("model.norm.weight")));
        Assert.Equal(source.GetBytes("model.norm.weight")[4], kept.Slice(4).Span[0]);
    }

    [Fact]
    public void TensorLargerThanASpan_IsReadInPieces()
    {
        // A 3 GiB F32 tensor in a sparse file: the header is real, the data is a hole that reads as zeros.
        using var folder = new TempFolder();
        const long bytes = 3L << 30;
        var header = FormatsTestFiles.Craft($$$"""{"big":{"dtype":"F32","shape":[{{{bytes / 4}}}],"data_offsets":[0,{{{bytes}}}]}}""", 0);
        string path = folder.Write("big.safetensors", header);
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(header.Length + bytes);

        using var source = SafetensorsFile.Open(path);
        Assert.Equal(bytes / 4, source.Get("big").ElementCount);
        var error = Assert.Throws<CheckpointException>(() => source.GetBytes("big").Length);
        Assert.Contains("big F32 [805306368]", error.Message);
        Assert.Contains("GetBytes(name, offset, count)", error.Message);
        Assert.Equal(16, source.GetBytes("big", bytes - 16, 16).Length);
        var tail = new float[1000];
        source.ReadFloat32("big", bytes / 4 - 1000, tail);
        Assert.All(tail, v => Assert.Equal(0f, v));
    }
}
