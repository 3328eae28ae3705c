using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Weights;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>Loading the golden checkpoints as BF16, F16 and FP8, and refusing broken ones with a clear error.</summary>
public class CheckpointLoadingTests : IDisposable
{
    private static readonly WorkerPool Pool = new(2);
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-load-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static float[] Logits(DeepSeekModel model, int[] tokens)
    {
        var ctx = new ForwardContext(Pool);
        var state = model.CreateState();
        model.Forward(ctx, tokens, BatchLayout.Single(tokens.Length), state, new ForwardRequest { RunMtp = true });
        return state.Logits.ToArray().Concat(state.Mtp[0].Logits.ToArray()).ToArray();
    }

    /// <summary>Writes the golden model's tensors through <paramref name="map"/> into a new folder.</summary>
    private string Rewrite(string name, Func<ITensorSource, string, IEnumerable<TensorToWrite>> map, string? configJson = null)
    {
        var g = new GoldenCase(name);
        var dir = Path.Combine(_tmp, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        using (var source = SafetensorsFile.Open(Path.Combine(g.Dir, "model.safetensors")))
            SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), source.Tensors.Keys.SelectMany(k => map(source, k)).ToList());
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson ?? File.ReadAllText(Path.Combine(g.Dir, "config.json")));
        return dir;
    }

    // Weight `name` as DeepSeek's FP8 (E4M3 + 128×128 block scales); its exact dequantisation goes to `dequantized`.
    private static TensorToWrite[] AsFp8(ITensorSource s, string name, Dictionary<string, float[]> dequantized)
    {
        var info = s.Get(name);
        int rows = (int)info.Shape[0], cols = (int)info.Shape[1];
        var w = new float[rows * cols];
        s.ReadFloat32(name, w);
        var q = new byte[w.Length];
        long[] scaleShape = [Fp8BlockQuantization.BlockCount(rows, 128), Fp8BlockQuantization.BlockCount(cols, 128)];
        var scale = new float[scaleShape[0] * scaleShape[1]];
        Fp8BlockQuantization.Quantize(w, rows, cols, q, scale);
        var back = new float[w.Length];
        Fp8BlockQuantization.Dequantize(q, scale, rows, cols, back);
        dequantized[name] = back;
        return [TensorToWrite.FromBytes(name, TensorDType.F8_E4M3, info.Shape, q),
                TensorToWrite.FromFloat32(name + "_scale_inv", TensorDType.F32, scaleShape, scale)];
    }

    private static TensorToWrite As(ITensorSource s, string name, TensorDType dtype)
    {
        var info = s.Get(name);
        var values = new float[info.ElementCount];
        s.ReadFloat32(name, values);
        return TensorToWrite.FromFloat32(name, name.EndsWith("e_score_correction_bias") ? TensorDType.F32 : dtype, info.Shape, values);
    }

    [Theory]
    [InlineData(TensorDType.BF16, ElementType.BF16)]
    [InlineData(TensorDType.F16, ElementType.F16)]
    public void HalfPrecisionCheckpointsComputeLikeTheirWidenedWeights(TensorDType dtype, ElementType storage)
    {
        var g = new GoldenCase("v3_yarn_f32");
        var dir = Rewrite(g.Name, (s, n) => [As(s, n, dtype)]);
        var half = ModelLoader.Load(dir);
        Assert.Equal(storage.ToWeightFormat(), half.Embed.Format);
        Assert.True(half.Embed.Weight.IsView, "a 16-bit weight is used where it lies in the mapped file");
        Assert.Equal(WeightFormat.F32, half.GetParameter("model.layers.1.mlp.gate.e_score_correction_bias").Format);
        var widened = ModelLoader.Load(dir, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        TestUtil.AssertClose(Logits(half, g.Tokens), Logits(widened, g.Tokens), 1e-5, $"{dtype} storage vs widened");
        // F16 keeps 11 significant bits: close to the float32 golden. (BF16's 8 bits flip some of the golden's
        // near-tied expert choices, so its logits move by tens of percent: a different model, not a bug.)
        if (dtype == TensorDType.F16)
        {
            double err = TestUtil.RelativeError(Logits(half, g.Tokens).AsSpan(0, g.Tokens.Length * 512), g.Raw("logits.f32"));
            Assert.True(err < 0.02, $"{dtype} logits differ from the float32 golden by {err:P2}");
        }
    }

    [Fact]
    public void Fp8CheckpointMatchesItsDequantisedWeights()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var config = ModelConfig.Load(g.Dir);
        var quantized = CheckpointLayout.All(config).Where(CheckpointLayout.IsFp8Quantized).Select(p => p.Name).ToHashSet();
        var dequantized = new Dictionary<string, float[]>();
        var fp8 = Rewrite(g.Name, (s, n) => quantized.Contains(n) ? AsFp8(s, n, dequantized) : [TensorToWrite.CopyOf(s, n)]);
        var reference = Rewrite(g.Name, (s, n) => dequantized.TryGetValue(n, out var d)
            ? [TensorToWrite.FromFloat32(n, TensorDType.F32, s.Get(n).Shape, d)] : [TensorToWrite.CopyOf(s, n)]);
        var a = Logits(ModelLoader.Load(fp8), g.Tokens);
        var b = Logits(ModelLoader.Load(reference), g.Tokens);
        Assert.Equal(b, a);   // bit-identical: the same float32 weights either way
    }

    /// <summary>
    /// DeepSeek's release layout: FP8 projections, everything else (the embedding first) BF16. The FP8 weights stay one
    /// byte each, viewed in the file, and compute with exactly e4m3 · scale: the logits are those of the same checkpoint
    /// with those weights written out as float32 (nothing rounds them to the embedding's BF16).
    /// </summary>
    [Fact]
    public void Fp8ReleaseLayoutKeepsFp8InMemoryAndMatchesExactDequantisation()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var config = ModelConfig.Load(g.Dir);
        var quantized = CheckpointLayout.All(config).Where(CheckpointLayout.IsFp8Quantized).Select(p => p.Name).ToHashSet();
        var dequantized = new Dictionary<string, float[]>();
        TensorToWrite Bf16(ITensorSource s, string n) => n.EndsWith("e_score_correction_bias") ? TensorToWrite.CopyOf(s, n) : As(s, n, TensorDType.BF16);
        var fp8 = Rewrite(g.Name, (s, n) => quantized.Contains(n) ? AsFp8(s, n, dequantized) : [Bf16(s, n)]);
        var reference = Rewrite(g.Name, (s, n) => dequantized.TryGetValue(n, out var d)
            ? [TensorToWrite.FromFloat32(n, TensorDType.F32, s.Get(n).Shape, d)] : [Bf16(s, n)]);
        using var model = ModelLoader.Load(fp8);
        Assert.Equal(WeightFormat.BF16, model.Embed.Format);
        foreach (var name in quantized.Where(n => !DeepSeekModel.IsMtpCopy(config, n, out _)))
        {
            var p = model.GetParameter(name);
            Assert.Equal(WeightFormat.Fp8E4M3, p.Format);
            Assert.True(p.Weight.IsView, $"{name} is viewed in the mapped file");
            Assert.True(p.Weight.ByteSize < (long)p.Size + p.Size / 100, $"{name}: {p.Weight.ByteSize} bytes for {p.Size} weights");
            var values = new float[p.Size];
            p.Weight.Dequantize(values);
            Assert.Equal(dequantized[name], values);
        }
        var a = Logits(model, g.Tokens);
        var b = Logits(ModelLoader.Load(reference), g.Tokens);
        double err = TestUtil.RelativeError(a, b);
        Assert.True(err <= 1e-6, $"FP8 logits differ from the exactly dequantised checkpoint's by {err:E2}");
    }

    [Fact]
    public void MtpCopiesAreSharedWhenIdenticalAndKeptApartWhenNot()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var shared = ModelLoader.Load(g.Dir);
        Assert.Same(shared.Embed, shared.Mtp[0].Embed);
        Assert.Same(shared.Head, shared.Mtp[0].Head);
        var dir = Rewrite(g.Name, (s, n) =>
        {
            if (n != "model.layers.3.shared_head.head.weight") return [TensorToWrite.CopyOf(s, n)];
            var v = new float[s.Get(n).ElementCount];
            s.ReadFloat32(n, v);
            v[0] += 1f;
            return [TensorToWrite.FromFloat32(n, TensorDType.F32, s.Get(n).Shape, v)];
        });
        var apart = ModelLoader.Load(dir);
        Assert.Same(apart.Embed, apart.Mtp[0].Embed);
        Assert.NotSame(apart.Head, apart.Mtp[0].Head);
        Assert.Equal(apart.Head.ToFloat32()[0] + 1f, apart.Mtp[0].Head.ToFloat32()[0]);
    }

    [Fact]
    public void SaveThenLoadRoundTripsAndWritesSharedTensorsUnderBothNames()
    {
        var g = new GoldenCase("q_lora_null");
        var model = ModelLoader.Load(g.Dir);
        var dir = Path.Combine(_tmp, "saved");
        ModelSaver.Save(model, dir);
        using (var s = Checkpoint.Open(dir))
        {
            Assert.Contains("model.layers.3.embed_tokens.weight", s.Tensors.Keys);
            Assert.Contains("model.layers.3.shared_head.head.weight", s.Tensors.Keys);
        }
        var again = ModelLoader.Load(dir);
        Assert.Equal(Logits(model, g.Tokens), Logits(again, g.Tokens));
        ModelSaver.Save(model, Path.Combine(_tmp, "sharded"), maxShardBytes: 200_000);
        Assert.True(File.Exists(Path.Combine(_tmp, "sharded", "model.safetensors.index.json")));
        Assert.Equal(Logits(model, g.Tokens), Logits(ModelLoader.Load(Path.Combine(_tmp, "sharded")), g.Tokens));
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var dir = Rewrite("v3_yarn_f32", (s, n) => n == "model.layers.2.self_attn.kv_b_proj.weight" ? [] : [TensorToWrite.CopyOf(s, n)]);
        var e = Assert.ThrowsAny<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.layers.2.self_attn.kv_b_proj.weight", e.Message);
    }

    [Fact]
    public void UnknownTensorIsNamed()
    {
        var dir = Rewrite("v3_yarn_f32", (s, n) => n == CheckpointLayout.Head
            ? [TensorToWrite.CopyOf(s, n), TensorToWrite.FromFloat32("model.layers.0.self_attn.rotary.weight", TensorDType.F32, [2], new float[2])]
            : [TensorToWrite.CopyOf(s, n)]);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.layers.0.self_attn.rotary.weight", e.Message);
    }

    [Fact]
    public void WrongShapeIsNamedWithBothShapes()
    {
        var dir = Rewrite("v3_yarn_f32", (s, n) => n == "model.norm.weight"
            ? [TensorToWrite.FromFloat32(n, TensorDType.F32, [65], new float[65])] : [TensorToWrite.CopyOf(s, n)]);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.norm.weight", e.Message);
        Assert.Contains("[65]", e.Message);
        Assert.Contains("[64]", e.Message);
    }

    [Fact]
    public void IntegerWeightIsRejected()
    {
        var dir = Rewrite("v3_yarn_f32", (s, n) => n == "model.norm.weight"
            ? [TensorToWrite.FromBytes(n, TensorDType.I32, [64], new byte[256])] : [TensorToWrite.CopyOf(s, n)]);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.norm.weight", e.Message);
        Assert.Contains("I32", e.Message);
    }

    [Fact]
    public void ACheckpointWithoutItsMtpLayerLoadsWithoutMtp()
    {
        var dir = Rewrite("v3_yarn_f32", (s, n) => n.StartsWith("model.layers.3.") ? [] : [TensorToWrite.CopyOf(s, n)]);
        var model = ModelLoader.Load(dir);
        Assert.Empty(model.Mtp);
        Assert.Equal(0, model.Config.MtpDepth);
    }

    [Fact]
    public void AMissingFolderOrConfigIsAClearError()
    {
        Assert.Contains("not found", Assert.ThrowsAny<SeekSharpException>(() => ModelLoader.Load(Path.Combine(_tmp, "nowhere"))).Message);
        var dir = Path.Combine(_tmp, "noconfig");
        Directory.CreateDirectory(dir);
        Assert.Contains("config.json", Assert.ThrowsAny<SeekSharpException>(() => ModelLoader.Load(dir)).Message);
    }
}
