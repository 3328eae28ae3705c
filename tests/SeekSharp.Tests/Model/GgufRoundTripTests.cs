using SeekSharp.Formats.Gguf;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>
/// GGUF out and in: a model exported as deepseek2 and loaded back computes the folder's logits (F32 within 1e-6, Q8_0
/// and Q4_0 exactly as the same quantised folder), carries the keys and tensor names docs/gguf.md lists, and a damaged
/// export is a clean CheckpointException.
/// </summary>
public class GgufRoundTripTests : IDisposable
{
    private static readonly WorkerPool Pool = new(2);
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-ggufrt-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    internal static string DefaultModel => TestUtil.DefaultModelDir;

    private static float[] Logits(DeepSeekModel model, int[] tokens, bool mtp)
    {
        var ctx = new ForwardContext(Pool);
        var state = model.CreateState();
        model.Forward(ctx, tokens, BatchLayout.Single(tokens.Length), state, new ForwardRequest { RunMtp = mtp });
        var logits = state.Logits.ToArray();
        return mtp ? logits.Concat(state.Mtp[0].Logits.ToArray()).ToArray() : logits;
    }

    private string Export(string folder, GgufTensorType type, bool mtp)
    {
        string path = Path.Combine(_tmp, $"{Guid.NewGuid():N}.gguf");
        GgufExporter.Export(folder, path, type, mtp);
        return path;
    }

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void F32ExportOfAGoldenModelGivesTheFoldersLogits(string name)
    {
        var g = new GoldenCase(name);
        string path = Export(g.Dir, GgufTensorType.F32, mtp: true);
        using var folder = ModelLoader.Load(g.Dir, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        using var gguf = ModelLoader.Load(path);
        Assert.Equal(folder.Config.MtpDepth, gguf.Config.MtpDepth);
        TestUtil.AssertClose(Logits(gguf, g.Tokens, mtp: true), Logits(folder, g.Tokens, mtp: true), 1e-6, name);
        Assert.Contains(gguf.Parameters, p => p.HasValues && p.Weight.IsView);   // matrices are used in the mapped file

        // Without --mtp the file has no nextn tensors and loads as the trunk alone, with the same logits.
        string trunk = Export(g.Dir, GgufTensorType.F32, mtp: false);
        using (var f = GgufFile.Open(trunk)) Assert.DoesNotContain(f.Tensors, t => t.Name.Contains("nextn", StringComparison.Ordinal));
        using var trunkModel = ModelLoader.Load(trunk);
        Assert.Equal(0, trunkModel.Config.MtpDepth);
        TestUtil.AssertClose(Logits(trunkModel, g.Tokens, mtp: false), Logits(folder, g.Tokens, mtp: false), 1e-6, name + " trunk");
    }

    [Theory]
    [InlineData("q_lora_null", QuantType.Q8_0)]   // every row a whole number of 32-blocks (q_lora_rank 48 is not: stays F32)
    [InlineData("q_lora_null", QuantType.Q4_0)]
    public void QuantisedExportOfAQuantisedModelIsTheSameWeights(string name, QuantType q)
    {
        var g = new GoldenCase(name);
        string quantised = Path.Combine(_tmp, "q-" + q);
        using (var m = ModelLoader.Load(g.Dir, new ModelLoadOptions { Quantization = q, Pool = Pool }))
            ModelSaver.Save(m, quantised);
        string path = Export(quantised, GgufTensorTypes.FromQuantType(q), mtp: true);
        using var folder = ModelLoader.Load(quantised);
        using var gguf = ModelLoader.Load(path);
        foreach (var p in folder.Parameters.Where(p => p.Quantized is not null))
        {
            var other = gguf.GetParameter(p.Name).Quantized;
            Assert.True(other is not null, $"{p.Name} {p.Quantized}");
            Assert.True(other.IsView, p.Name);
            Assert.Equal(p.Quantized!.RawBytes.ToArray(), other.RawBytes.ToArray());
        }
        Assert.Equal(Logits(folder, g.Tokens, mtp: true), Logits(gguf, g.Tokens, mtp: true));
    }

    [Fact]
    public void DefaultModelRoundTripsWithItsTokenizer()
    {
        // models/default is stored Q8_0: the q8_0 export is the same weights, so the logits are the same.
        string path = Export(DefaultModel, GgufTensorType.Q8_0, mtp: false);
        using var folder = ModelLoader.Load(DefaultModel);
        using var gguf = ModelLoader.Load(path);
        var folderTok = Tokenizer.Load(DefaultModel);
        var ggufTok = Tokenizer.Load(path);
        const string text = "The quick brown fox, 12345 — héllo 世界!";
        var ids = folderTok.Encode(text, addBos: true);
        Assert.Equal(ids, ggufTok.Encode(text, addBos: true));
        Assert.Equal(folderTok.BosId, ggufTok.BosId);
        Assert.Equal(folderTok.ChatTemplate?.Kind, ggufTok.ChatTemplate?.Kind);
        Assert.Equal(Logits(folder, ids, mtp: false), Logits(gguf, ids, mtp: false));
    }

    [Fact]
    public void MtpExportSpeculatesAsTheFolderDoes()
    {
        // models/default with its (trained) MTP layer, as a Q8_0 --mtp file: the MTP head's logits are the folder's bit
        // for bit, and speculative greedy decoding from the file drafts, accepts and generates exactly what the folder does.
        string path = Export(DefaultModel, GgufTensorType.Q8_0, mtp: true);
        using var folder = ModelLoader.Load(DefaultModel);
        using var gguf = ModelLoader.Load(path);
        Assert.Equal(1, gguf.Config.MtpDepth);
        var tokenizer = Tokenizer.Load(path);
        var ids = tokenizer.Encode("In computing, a compiler", addBos: true);
        Assert.Equal(Logits(folder, ids, mtp: true), Logits(gguf, ids, mtp: true));

        (string Text, GenerationStats Stats) Speculate(DeepSeekModel model)
        {
            var stats = new GenerationStats();
            var generator = new Generator(new InferenceSession(model, 128, Pool), tokenizer);
            var options = new GenerationOptions { MaxTokens = 24, Sampling = SamplingOptions.Greedy, Speculative = SpeculativeMode.Mtp, SkipSpecialTokens = false };
            return (string.Concat(generator.Generate(ids, options, stats)), stats);
        }
        var (text, stats) = Speculate(gguf);
        var (folderText, folderStats) = Speculate(folder);
        Assert.Equal(folderText, text);
        Assert.Equal((folderStats.Drafted, folderStats.Accepted, folderStats.GeneratedTokens), (stats.Drafted, stats.Accepted, stats.GeneratedTokens));
        Assert.True(stats.Accepted > 0, stats.ToString());
    }

    [Fact]
    public void QuantisedGgufIsRefusedForTraining()
    {
        // As for a quantised folder: `train --init-from` loads with F32 matrices, which would silently dequantise.
        string path = Export(new GoldenCase("q_lora_null").Dir, GgufTensorType.Q8_0, mtp: false);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(path, new ModelLoadOptions { MatrixStorage = ElementType.F32 }));
        Assert.Contains("cannot be trained", e.Message);
        Assert.Contains("Q8_0", e.Message);
        var g = new GoldenCase("q_lora_null");
        var cli = SeekSharp.Tests.Cli.CliTestHost.Run("train", "--init-from", path, "--data", Path.Combine(g.Dir, "grads.json"), "--out", Path.Combine(_tmp, "run"), "--steps", "1");
        Assert.Equal(1, cli.Code);
        Assert.Contains("block-quantised weights (Q8_0", cli.Err);

        // An F16 file trains (its values widened to F32), as an F16 folder does.
        string half = Export(g.Dir, GgufTensorType.F16, mtp: false);
        using var model = ModelLoader.Load(half, new ModelLoadOptions { MatrixStorage = ElementType.F32 });
        Assert.All(model.Parameters.Where(p => p.HasValues), p => Assert.NotNull(p.Data));
    }

    [Fact]
    public void HeaderCarriesTheDeepSeek2KeysTensorNamesAndTypes()
    {
        string path = Export(DefaultModel, GgufTensorType.Q8_0, mtp: true);
        using var f = GgufFile.Open(path);
        var c = ModelConfig.Load(Path.Combine(DefaultModel, "config.json"));
        Assert.Equal("deepseek2", f.Get<string>("general.architecture"));
        Assert.Equal(7u, f.Get<uint>("general.file_type"));
        const string A = "deepseek2.";
        Assert.Equal((uint)(c.NumHiddenLayers + 1), f.Get<uint>(A + "block_count"));
        Assert.Equal(1u, f.Get<uint>(A + "nextn_predict_layers"));
        Assert.Equal((uint)c.HiddenSize, f.Get<uint>(A + "embedding_length"));
        Assert.Equal(1u, f.Get<uint>(A + "attention.head_count_kv"));
        Assert.Equal((uint)(c.KvLoraRank + c.QkRopeHeadDim), f.Get<uint>(A + "attention.key_length"));
        Assert.Equal((uint)c.KvLoraRank, f.Get<uint>(A + "attention.value_length"));
        Assert.Equal((uint)c.QkHeadDim, f.Get<uint>(A + "attention.key_length_mla"));
        Assert.Equal((uint)c.VHeadDim, f.Get<uint>(A + "attention.value_length_mla"));
        Assert.Equal((uint)c.QkRopeHeadDim, f.Get<uint>(A + "rope.dimension_count"));
        foreach (var key in new[] { "context_length", "feed_forward_length", "attention.head_count", "attention.kv_lora_rank", "leading_dense_block_count",
                     "expert_count", "expert_used_count", "expert_shared_count", "expert_feed_forward_length", "expert_gating_func" })
            Assert.IsType<uint>(f.Metadata[A + key]);
        foreach (var key in new[] { "attention.layer_norm_rms_epsilon", "rope.freq_base", "expert_weights_scale" })
            Assert.IsType<float>(f.Metadata[A + key]);
        Assert.Equal("gpt2", f.Get<string>("tokenizer.ggml.model"));
        Assert.Equal(c.VocabSize, f.Get<string[]>("tokenizer.ggml.tokens").Length);
        Assert.Equal(c.VocabSize, f.Get<int[]>("tokenizer.ggml.token_type").Length);
        Assert.NotEmpty(f.Get<string[]>("tokenizer.ggml.merges"));
        Assert.IsType<uint>(f.Metadata["tokenizer.ggml.bos_token_id"]);
        Assert.IsType<uint>(f.Metadata["tokenizer.ggml.eos_token_id"]);
        Assert.IsType<string>(f.Metadata["tokenizer.chat_template"]);

        GgufTensorType TypeOf(string name) => f.GetTensor(name).Type;
        Assert.Equal([c.HiddenSize, c.VocabSize], f.GetTensor("token_embd.weight").Dims);
        Assert.Equal(GgufTensorType.Q8_0, TypeOf("token_embd.weight"));
        Assert.Equal(GgufTensorType.F32, TypeOf("output_norm.weight"));
        Assert.Equal(GgufTensorType.F32, TypeOf("blk.0.attn_norm.weight"));
        Assert.Equal([c.QkNopeHeadDim, c.KvLoraRank, c.NumAttentionHeads], f.GetTensor("blk.0.attn_k_b.weight").Dims);
        Assert.Equal([c.KvLoraRank, c.VHeadDim, c.NumAttentionHeads], f.GetTensor("blk.0.attn_v_b.weight").Dims);
        Assert.False(f.TryGetTensor("blk.0.attn_kv_b.weight", out _));
        int moe = c.FirstKDenseReplace;
        Assert.Equal(GgufTensorType.F32, TypeOf($"blk.{moe}.ffn_gate_inp.weight"));
        Assert.Equal(GgufTensorType.F32, TypeOf($"blk.{moe}.exp_probs_b.bias"));
        Assert.Equal([c.HiddenSize, c.MoeIntermediateSize, c.NRoutedExperts!.Value], f.GetTensor($"blk.{moe}.ffn_gate_exps.weight").Dims);
        Assert.Equal([c.MoeIntermediateSize, c.HiddenSize, c.NRoutedExperts!.Value], f.GetTensor($"blk.{moe}.ffn_down_exps.weight").Dims);
        Assert.Equal(GgufTensorType.Q8_0, TypeOf($"blk.{moe}.ffn_up_exps.weight"));
        int n = c.NumHiddenLayers;
        Assert.Equal([2L * c.HiddenSize, c.HiddenSize], f.GetTensor($"blk.{n}.nextn.eh_proj.weight").Dims);
        Assert.True(f.TryGetTensor($"blk.{n}.nextn.enorm.weight", out _));
        Assert.True(f.TryGetTensor($"blk.{n}.nextn.shared_head_norm.weight", out _));
        Assert.True(f.TryGetTensor($"blk.{n}.attn_q_b.weight", out _) || f.TryGetTensor($"blk.{n}.attn_q.weight", out _));
    }

    [Fact]
    public void ConfigRebuiltFromTheDeepSeek2KeysAloneMatches()
    {
        var c = ModelConfig.Load(Path.Combine(new GoldenCase("v3_yarn_f32").Dir, "config.json"));
        var keys = DeepSeek2Metadata.Build(c, mtp: true, GgufTensorType.F32, "t").Where(kv => kv.Key != DeepSeek2Metadata.ConfigKey).ToList();
        string path = Path.Combine(_tmp, "keys.gguf");
        GgufWriter.Write(path, keys, [new GgufTensorToWrite("blk.0.exp_probs_b.bias", GgufTensorType.F32, [1], s => s.Write(new byte[4]))]);
        using var f = GgufFile.Open(path);
        var back = DeepSeek2Metadata.ReadConfig(f);
        Assert.Equal((c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumNextnPredictLayers, c.FirstKDenseReplace), (back.VocabSize, back.HiddenSize, back.NumHiddenLayers, back.NumNextnPredictLayers, back.FirstKDenseReplace));
        Assert.Equal((c.QLoraRank, c.KvLoraRank, c.QkNopeHeadDim, c.QkRopeHeadDim, c.VHeadDim), (back.QLoraRank, back.KvLoraRank, back.QkNopeHeadDim, back.QkRopeHeadDim, back.VHeadDim));
        Assert.Equal((c.NRoutedExperts, c.NSharedExperts, c.NumExpertsPerTok, c.NGroup, c.TopkGroup, c.ScoringFunc, c.NormTopkProb, c.TopkMethod),
            (back.NRoutedExperts, back.NSharedExperts, back.NumExpertsPerTok, back.NGroup, back.TopkGroup, back.ScoringFunc, back.NormTopkProb, back.TopkMethod));
        Assert.Equal(c.RoutedScalingFactor, back.RoutedScalingFactor, 5);
        Assert.Equal(c.RopeScaling!.Factor, back.RopeScaling!.Factor, 5);
        Assert.Equal(c.RopeScaling.MscaleAllDim ?? 0, back.RopeScaling.MscaleAllDim ?? 0, 5);
        Assert.Equal(c.RopeScaling.OriginalMaxPositionEmbeddings, back.RopeScaling.OriginalMaxPositionEmbeddings);
    }

    [Fact]
    public void DamagedExportsAreCheckpointExceptions()
    {
        var g = new GoldenCase("v3_yarn_f32");
        string path = Export(g.Dir, GgufTensorType.F32, mtp: true);
        var bytes = File.ReadAllBytes(path);
        string truncated = Path.Combine(_tmp, "truncated.gguf");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length - 100).ToArray());
        Assert.Contains("truncated", Assert.Throws<CheckpointException>(() => ModelLoader.Load(truncated)).Message);

        // A tensor renamed to one the layout does not have, and one left out.
        string renamed = Path.Combine(_tmp, "renamed.gguf");
        int at = IndexOf(bytes, "blk.0.attn_norm.weight"u8);
        var copy = (byte[])bytes.Clone();
        "blk.0.attn_xxxx.weight"u8.CopyTo(copy.AsSpan(at));
        File.WriteAllBytes(renamed, copy);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(renamed));
        Assert.Contains("blk.0.attn_xxxx.weight", e.Message);
        Assert.Contains(renamed, e.Message);

        // Wrong architecture.
        string arch = Path.Combine(_tmp, "arch.gguf");
        copy = (byte[])bytes.Clone();
        "llama_____"u8[..9].CopyTo(copy.AsSpan(IndexOf(bytes, "deepseek2"u8)));
        File.WriteAllBytes(arch, copy);
        Assert.Contains("general.architecture", Assert.Throws<CheckpointException>(() => ModelLoader.Load(arch)).Message);
    }

    private static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);
}
