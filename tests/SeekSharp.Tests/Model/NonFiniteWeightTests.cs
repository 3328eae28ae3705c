using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>A NaN or infinity in a checkpoint's weights is a <see cref="CheckpointException"/> naming the tensor (docs/reliability.md).</summary>
public sealed class NonFiniteWeightTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-nonfinite-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // The golden v3 model with one value of one tensor replaced.
    private string WithValue(string tensor, long element, float value)
    {
        var golden = new GoldenCase("v3_yarn_f32").Dir;
        File.Copy(Path.Combine(golden, "config.json"), Path.Combine(_dir, "config.json"));
        using var source = SafetensorsFile.Open(Path.Combine(golden, "model.safetensors"));
        var info = source.Get(tensor);
        var values = new float[info.ElementCount];
        source.ReadFloat32(tensor, values);
        values[element] = value;
        SafetensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), source.Tensors.Keys.Select(name => name == tensor
            ? TensorToWrite.FromFloat32(name, info.DType, info.Shape, values)
            : TensorToWrite.CopyOf(source, name)));
        return _dir;
    }

    [Fact]
    public void ANaNInAMappedMatrixIsNamed()
    {
        string dir = WithValue("model.layers.0.self_attn.o_proj.weight", 37, float.NaN);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("'model.layers.0.self_attn.o_proj.weight'", e.Message);
        Assert.Contains("element 37", e.Message);
    }

    [Fact]
    public void AnInfinityInANormIsNamedEvenWithoutTheFullScan()
    {
        string dir = WithValue("model.norm.weight", 3, float.PositiveInfinity);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir, new ModelLoadOptions { CheckFinite = null }));
        Assert.Contains("'model.norm.weight'", e.Message);
        Assert.Contains("+infinity", e.Message);
    }

    [Fact]
    public void TheCheckCanBeTurnedOff()
    {
        string dir = WithValue("model.layers.0.self_attn.o_proj.weight", 0, float.NaN);
        using var model = ModelLoader.Load(dir, new ModelLoadOptions { CheckFinite = false });
        Assert.NotNull(model);
    }

    [Fact]
    public void TrainingStorageIsChecked()
    {
        string dir = WithValue("model.embed_tokens.weight", 100, float.NegativeInfinity);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir, new ModelLoadOptions { MatrixStorage = SeekSharp.Tensors.ElementType.F32, CheckFinite = null }));
        Assert.Contains("'model.embed_tokens.weight'", e.Message);
    }

    [Theory]
    [InlineData(TensorDType.F32, new byte[] { 0, 0, 0x80, 0x3F, 0, 0, 0x80, 0x7F }, 1)]          // 1, +inf
    [InlineData(TensorDType.F32, new byte[] { 0, 0, 0x80, 0x3F, 0xFF, 0xFF, 0x7F, 0x7F }, -1)]   // 1, float.MaxValue
    [InlineData(TensorDType.BF16, new byte[] { 0x80, 0x3F, 0xC1, 0xFF }, 1)]                     // 1, NaN
    [InlineData(TensorDType.F16, new byte[] { 0x00, 0x3C, 0x00, 0xFC }, 1)]                      // 1, -inf
    [InlineData(TensorDType.F16, new byte[] { 0x00, 0x3C, 0xFF, 0x7B }, -1)]                     // 1, 65504
    [InlineData(TensorDType.F8_E4M3, new byte[] { 0x38, 0x7E, 0xFF }, 2)]                        // 1, 448, NaN
    [InlineData(TensorDType.F64, new byte[] { 0, 0, 0, 0, 0, 0, 0xF8, 0x7F }, 0)]                // NaN
    [InlineData(TensorDType.I32, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F }, -1)]                     // integers are never checked
    public void StoredBytesAreScannedPerDType(TensorDType dtype, byte[] bytes, long expected) =>
        Assert.Equal(expected, FiniteCheck.FindNonFinite(dtype, bytes));

    [Fact]
    public void TheVectorisedScanFindsTheFirstBadValueAnywhere()
    {
        var values = new float[1000];
        for (int at = 0; at < values.Length; at += 37)
        {
            Array.Clear(values);
            values[at] = float.NaN;
            values[^1] = float.PositiveInfinity;
            Assert.Equal(at, FiniteCheck.FindNonFinite(values));
        }
    }
}
