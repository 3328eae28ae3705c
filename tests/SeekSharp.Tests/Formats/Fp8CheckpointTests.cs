using System.Text.RegularExpressions;
using SeekSharp.Formats;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Tensors.Weights;
using Xunit;

namespace SeekSharp.Tests.Formats;

/// <summary>
/// DeepSeek-style FP8 checkpoints built from the golden F32 one: every attention and MLP projection (architecture.md §14) stored
/// as E4M3 with a <c>weight_scale_inv</c> companion, then read back through <see cref="ITensorSource.ReadWeightFloat32"/>.
/// </summary>
public partial class Fp8CheckpointTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [GeneratedRegex(@"\.(q_a_proj|q_b_proj|q_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$")]
    private static partial Regex QuantisedWeight();

    [Theory]
    [InlineData(128, 128)] // DeepSeek's blocks: each golden projection is a single (partial) block
    [InlineData(32, 16)]   // smaller blocks, so that the golden shapes span several, some partial (48 rows)
    public void Fp8Checkpoint_DequantisesToTheGoldenWeightsWithinE4M3Precision(int blockRows, int blockCols)
    {
        using var golden = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        WriteFp8Copy(golden, _folder.File("model.safetensors"), blockRows, blockCols);
        using var fp8 = Checkpoint.Open(_folder.Path);

        int quantised = 0;
        foreach (var (name, info) in golden.Tensors)
        {
            var expected = new float[info.ElementCount];
            golden.ReadFloat32(name, expected);
            var actual = new float[info.ElementCount];
            fp8.ReadWeightFloat32(name, actual, blockRows, blockCols);
            if (!QuantisedWeight().IsMatch(name))
            {
                Assert.Equal(expected, actual);
                continue;
            }
            quantised++;
            Assert.Equal(TensorDType.F8_E4M3, fp8.Get(name).DType);
            var scales = new float[fp8.Get(name + "_scale_inv").ElementCount];
            fp8.ReadFloat32(name + "_scale_inv", scales);
            float maxScale = scales.Max();
            for (int i = 0; i < expected.Length; i++)
            {
                double bound = Math.Max(Math.Abs(expected[i]) / 16, maxScale / 1024.0) * 1.0001;
                Assert.True(Math.Abs(expected[i] - actual[i]) <= bound, $"{name}[{i}]: {expected[i]} vs {actual[i]}");
            }
        }
        // 4 layers (the MTP layer included) × 5 attention projections, 3 in the dense MLP of layer 0, and in each of the
        // 3 MoE layers (1, 2 and MTP) 16 routed experts plus 1 shared expert × 3 projections.
        Assert.Equal(4 * 5 + 3 + 3 * (16 + 1) * 3, quantised);
    }

    [Fact]
    public void Fp8WeightAndScaleInDifferentShards_StillDequantise()
    {
        var weight = Fp8BlockQuantizationTests.RandomWeight(200, 300, seed: 9);
        var q = new byte[weight.Length];
        var scales = new float[2 * 3];
        Fp8BlockQuantization.Quantize(weight, 200, 300, q, scales);
        SafetensorsWriter.WriteSharded(_folder.Path,
        [
            TensorToWrite.FromBytes("w.weight", TensorDType.F8_E4M3, [200, 300], q),
            TensorToWrite.FromFloat32("w.weight_scale_inv", TensorDType.F32, [2, 3], scales),
        ], maxShardBytes: 1);
        Assert.True(File.Exists(_folder.File("model-00002-of-00002.safetensors")));

        using var source = Checkpoint.Open(_folder.Path);
        var actual = new float[weight.Length];
        source.ReadWeightFloat32("w.weight", actual);
        var expected = new float[weight.Length];
        Fp8BlockQuantization.Dequantize(q, scales, 200, 300, expected);
        Assert.Equal(expected, actual);

        // ReadFloat32 decodes the stored E4M3 values without the scale.
        var raw = new float[weight.Length];
        source.ReadFloat32("w.weight", raw);
        Assert.Equal(FloatFormats.E4M3ToFloat32(q[123]), raw[123]);
    }

    [Fact]
    public void Fp8WeightWithoutScale_IsAMissingTensorNamingTheScale()
    {
        SafetensorsWriter.Write(_folder.File("model.safetensors"), [TensorToWrite.FromBytes("a.weight", TensorDType.F8_E4M3, [2, 2], new byte[4])]);
        using var source = Checkpoint.Open(_folder.Path);
        var error = Assert.Throws<MissingTensorException>(() => source.ReadWeightFloat32("a.weight", new float[4]));
        Assert.Equal("a.weight_scale_inv", error.TensorName);
        Assert.Contains("a.weight", error.Message);
    }

    [Fact]
    public void Fp8WeightWithWrongScaleShape_NamesBothTensorsAndTheExpectedShape()
    {
        SafetensorsWriter.Write(_folder.File("model.safetensors"),
        [
            TensorToWrite.FromBytes("kv_a.weight", TensorDType.F8_E4M3, [576, 130], new byte[576 * 130]),
            TensorToWrite.FromFloat32("kv_a.weight_scale_inv", TensorDType.F32, [4, 2], new float[8]), // needs [5, 2]
        ]);
        using var source = Checkpoint.Open(_folder.Path);
        var error = Assert.Throws<CheckpointException>(() => source.ReadWeightFloat32("kv_a.weight", new float[576 * 130]));
        Assert.Contains("kv_a.weight_scale_inv", error.Message);
        Assert.Contains("kv_a.weight F8_E4M3 [576, 130]", error.Message);
        Assert.Contains("[5, 2]", error.Message);
    }

    [Fact]
    public void Fp8TensorThatIsNot2D_IsAnError()
    {
        SafetensorsWriter.Write(_folder.File("model.safetensors"), [TensorToWrite.FromBytes("v.weight", TensorDType.F8_E4M3, [4], new byte[4])]);
        using var source = Checkpoint.Open(_folder.Path);
        var error = Assert.Throws<CheckpointException>(() => source.ReadWeightFloat32("v.weight", new float[4]));
        Assert.Contains("v.weight", error.Message);
        Assert.Contains("2-D", error.Message);
    }

    [Fact]
    public void ReadWeightFloat32_WrongDestinationLength_NamesTheTensor()
    {
        SafetensorsWriter.Write(_folder.File("model.safetensors"), [TensorToWrite.FromBytes("a.weight", TensorDType.F8_E4M3, [2, 2], new byte[4])]);
        using var source = Checkpoint.Open(_folder.Path);
        var error = Assert.Throws<ArgumentException>(() => source.ReadWeightFloat32("a.weight", new float[3]));
        Assert.Contains("a.weight", error.Message);
    }

    // Writes a copy of a checkpoint with every projection quantised to FP8 and the rest unchanged.
    private static void WriteFp8Copy(ITensorSource source, string path, int blockRows, int blockCols)
    {
        var tensors = new List<TensorToWrite>();
        foreach (var (name, info) in source.Tensors)
        {
            if (!QuantisedWeight().IsMatch(name))
            {
                tensors.Add(TensorToWrite.CopyOf(source, name));
                continue;
            }
            int rows = (int)info.Shape[0], cols = (int)info.Shape[1];
            var weight = new float[rows * cols];
            source.ReadFloat32(name, weight);
            int scaleRows = Fp8BlockQuantization.BlockCount(rows, blockRows), scaleCols = Fp8BlockQuantization.BlockCount(cols, blockCols);
            var q = new byte[weight.Length];
            var scales = new float[scaleRows * scaleCols];
            Fp8BlockQuantization.Quantize(weight, rows, cols, q, scales, blockRows, blockCols);
            tensors.Add(TensorToWrite.FromBytes(name, TensorDType.F8_E4M3, [rows, cols], q));
            tensors.Add(TensorToWrite.FromFloat32(name + "_scale_inv", TensorDType.F32, [scaleRows, scaleCols], scales));
        }
        SafetensorsWriter.Write(path, tensors, source.Metadata);
    }
}
