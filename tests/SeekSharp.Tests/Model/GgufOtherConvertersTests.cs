using SeekSharp.Formats.Gguf;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>
/// deepseek2 GGUFs as other converters write them, made here by rewriting our own export with the GGUF writer: the
/// legacy unsplit <c>attn_kv_b</c> (llama.cpp's converter before it absorbed MLA, ~04/2025: no *_mla keys, key_length and
/// value_length the real head sizes), <c>attn_kv_b</c> beside the halves (ik_llama.cpp), quantised kv_b and k_b/v_b, a
/// q_lora_rank key that the tensors contradict; and what llama.cpp would refuse in an export of ours.
/// </summary>
public class GgufOtherConvertersTests : IDisposable
{
    private static readonly WorkerPool Pool = new(2);
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-ggufconv-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private const string A = "deepseek2.";

    private static float[] Logits(DeepSeekModel model, int[] tokens)
    {
        var state = model.CreateState();
        model.Forward(new ForwardContext(Pool), tokens, BatchLayout.Single(tokens.Length), state, new ForwardRequest());
        return state.Logits.ToArray();
    }

    private static float[] Logits(string path, int[] tokens)
    {
        using var model = ModelLoader.Load(path);
        return Logits(model, tokens);
    }

    private string Export(string folder, GgufTensorType type)
    {
        string path = Path.Combine(_tmp, $"{Guid.NewGuid():N}.gguf");
        GgufExporter.Export(folder, path, type, mtp: false);
        return path;
    }

    /// <summary>
    /// Copies <paramref name="from"/> to a new file with its metadata passed through <paramref name="keys"/> and each
    /// tensor through <paramref name="tensor"/> (which returns the tensors to write in its place: none drops it, the
    /// given copy keeps it).
    /// </summary>
    private string Rewrite(string from, Action<Dictionary<string, object>> keys,
        Func<GgufTensorInfo, GgufTensorToWrite, IEnumerable<GgufTensorToWrite>> tensor)
    {
        string to = Path.Combine(_tmp, $"{Guid.NewGuid():N}.gguf");
        using var f = GgufFile.Open(from);
        var metadata = new Dictionary<string, object>(f.Metadata);
        keys(metadata);
        var written = new List<GgufTensorToWrite>();
        foreach (var info in f.Tensors)
        {
            var bytes = RawBytes(f, info);
            written.AddRange(tensor(info, new GgufTensorToWrite(info.Name, info.Type, info.Dims, s => s.Write(bytes))));
        }
        GgufWriter.Write(to, metadata.ToList(), written);
        return to;
    }

    private static byte[] RawBytes(GgufFile f, GgufTensorInfo info)
    {
        using var stream = File.OpenRead(f.Path);
        stream.Position = f.DataStart + info.Offset;
        var bytes = new byte[info.ByteSize];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static float[] Floats(byte[] bytes)
    {
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }

    private static GgufTensorToWrite F32(string name, long[] dims, float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return new GgufTensorToWrite(name, GgufTensorType.F32, dims, s => s.Write(bytes));
    }

    private static GgufTensorToWrite Q8(string name, long[] dims, float[] values) =>
        new(name, GgufTensorType.Q8_0, dims, s => s.Write(QuantizedMatrix.Quantize(QuantType.Q8_0, values, (int)(values.Length / dims[0]), (int)dims[0]).RawBytes));

    private static float[] RoundTripQ8(float[] values, int cols)
    {
        var back = new float[values.Length];
        QuantizedMatrix.Quantize(QuantType.Q8_0, values, values.Length / cols, cols).Dequantize(back);
        return back;
    }

    // A file as llama.cpp's converter wrote it before MLA absorption: kv_b unsplit, head sizes in key/value_length, no
    // *_mla keys and no SeekSharp config (so the config is rebuilt from the deepseek2 keys).
    private string Legacy(string split, ModelConfig c, DeepSeekModel folder, Func<string, long[], float[], GgufTensorToWrite> kvB,
        bool keepHalves = false, uint? qLoraKey = null) =>
        Rewrite(split, keys =>
        {
            keys.Remove(DeepSeek2Metadata.ConfigKey);
            keys.Remove(A + "attention.key_length_mla");
            keys.Remove(A + "attention.value_length_mla");
            keys[A + "attention.key_length"] = (uint)c.QkHeadDim;
            keys[A + "attention.value_length"] = (uint)c.VHeadDim;
            keys[A + "attention.head_count_kv"] = (uint)c.NumAttentionHeads;
            if (qLoraKey is { } q) keys[A + "attention.q_lora_rank"] = q;
        }, (info, copy) =>
        {
            if (!info.Name.EndsWith(".attn_v_b.weight", StringComparison.Ordinal))
                return info.Name.EndsWith(".attn_k_b.weight", StringComparison.Ordinal) && !keepHalves ? [] : [copy];
            int layer = int.Parse(info.Name.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture);
            var p = folder.GetParameter(CheckpointLayout.LayerPrefix(layer) + CheckpointLayout.KvBProj);
            var joined = kvB(DeepSeek2Layout.JoinedKvBName(layer), [p.Cols, p.Rows], p.ToFloat32());
            return keepHalves ? [copy, joined] : [joined];
        });

    [Theory]
    [InlineData("v3_yarn_f32")]
    [InlineData("q_lora_null")]
    public void LegacyUnsplitKvBLoadsAsTheFolder(string name)
    {
        // Without q compression the q_lora_rank key is set to 48 here, which the attn_q tensors contradict (llama.cpp
        // ignores the key for "Lite" block counts and goes by the tensors; so do we).
        var g = new GoldenCase(name);
        using var folder = ModelLoader.Load(g.Dir, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        var c = folder.Config;
        string split = Export(g.Dir, GgufTensorType.F32);
        string legacy = Legacy(split, c, folder, F32, qLoraKey: c.QLoraRank is null ? 48u : null);
        using (var f = GgufFile.Open(legacy))
        {
            Assert.False(f.TryGetTensor("blk.0.attn_k_b.weight", out _));
            Assert.Equal([c.KvLoraRank, c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim)], f.GetTensor("blk.0.attn_kv_b.weight").Dims);
            Assert.False(f.Metadata.ContainsKey(DeepSeek2Metadata.ConfigKey));
        }
        using (var model = ModelLoader.Load(legacy))
        {
            Assert.Equal(c.QLoraRank, model.Config.QLoraRank);
            Assert.Equal((c.QkNopeHeadDim, c.QkRopeHeadDim, c.VHeadDim), (model.Config.QkNopeHeadDim, model.Config.QkRopeHeadDim, model.Config.VHeadDim));
            TestUtil.AssertClose(Logits(model, g.Tokens), Logits(folder, g.Tokens), 1e-6, "legacy attn_kv_b");
        }

        // attn_kv_b beside attn_k_b/attn_v_b (ik_llama.cpp's converter keeps both): read from the halves, same logits.
        string both = Legacy(split, c, folder, F32, keepHalves: true);
        Assert.Equal(Logits(split, g.Tokens), Logits(both, g.Tokens));
    }

    [Fact]
    public void QuantisedKvBIsReadAsItsDequantisedValues()
    {
        // Legacy Q8_0 attn_kv_b (rows of kv_lora = 32) against the same file with those values dequantised to F32.
        var g = new GoldenCase("v3_yarn_f32");
        using var folder = ModelLoader.Load(g.Dir, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        string split = Export(g.Dir, GgufTensorType.F32);
        string quantised = Legacy(split, folder.Config, folder, Q8);
        string dequantised = Legacy(split, folder.Config, folder, (name, dims, v) => F32(name, dims, RoundTripQ8(v, (int)dims[0])));
        using (var f = GgufFile.Open(quantised)) Assert.Equal(GgufTensorType.Q8_0, f.GetTensor("blk.0.attn_kv_b.weight").Type);
        Assert.Equal(Logits(dequantised, g.Tokens), Logits(quantised, g.Tokens));
    }

    [Fact]
    public void QuantisedKeyAndValueHalvesAreReadAsTheirDequantisedValues()
    {
        // models/default (qk_nope 32, kv_lora 64: both halves have whole 32-blocks), its Q8_0 export with k_b and v_b
        // (F32 in our exports) rewritten as Q8_0, against the same file with those values dequantised to F32.
        string export = Export(GgufRoundTripTests.DefaultModel, GgufTensorType.Q8_0);
        bool IsHalf(string name) => name.EndsWith(".attn_k_b.weight", StringComparison.Ordinal) || name.EndsWith(".attn_v_b.weight", StringComparison.Ordinal);
        using var src = GgufFile.Open(export);
        string quantised = Rewrite(export, _ => { }, (info, copy) => IsHalf(info.Name) ? [Q8(info.Name, info.Dims, Floats(RawBytes(src, info)))] : [copy]);
        string dequantised = Rewrite(export, _ => { }, (info, copy) =>
            IsHalf(info.Name) ? [F32(info.Name, info.Dims, RoundTripQ8(Floats(RawBytes(src, info)), (int)info.Dims[0]))] : [copy]);
        int[] tokens = [0, 17, 300, 4000, 25, 99, 1024, 7];
        Assert.Equal(Logits(dequantised, tokens), Logits(quantised, tokens));
    }

    [Fact]
    public void LlamaCppCaveatsOfAnExport()
    {
        var c = ModelConfig.Load(Path.Combine(new GoldenCase("v3_yarn_f32").Dir, "config.json"));
        Assert.Empty(DeepSeek2Metadata.LlamaCppCaveats(c, mtp: false));
        // 27 blocks with q compression: llama.cpp takes it for V2-Lite and would ask for attn_q; with --mtp, 26 + 1.
        Assert.Contains("V2-Lite", Assert.Single(DeepSeek2Metadata.LlamaCppCaveats(c with { NumHiddenLayers = 27 }, mtp: false)));
        Assert.Contains(DeepSeek2Metadata.LlamaCppCaveats(c with { NumHiddenLayers = 26 }, mtp: true), s => s.Contains("V2-Lite", StringComparison.Ordinal));
        Assert.Empty(DeepSeek2Metadata.LlamaCppCaveats(c with { NumHiddenLayers = 27, QLoraRank = null }, mtp: false));
        Assert.Contains("wrong number of tensors", Assert.Single(DeepSeek2Metadata.LlamaCppCaveats(c, mtp: true)));
    }
}
