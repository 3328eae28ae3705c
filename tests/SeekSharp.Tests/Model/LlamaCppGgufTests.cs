using System.Text;
using LLama;
using LLama.Native;
using SeekSharp.Formats.Gguf;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Weights;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Model;

/// <summary>
/// The deepseek2 export checked against llama.cpp itself (LLamaSharp 0.30.0, CPU backend, F32 KV cache, flash attention
/// off). F32: llama.cpp's logits within 1e-4 relative (max |a−b| / max |b| per position) at every position, and llama.cpp's
/// tokenizer gives our ids; models/default (stored Q8_0, so its F32 export holds the dequantised weights) is compared
/// against SeekSharp running the same .gguf; the golden models (q LoRA and none, sigmoid/noaux_tc and softmax/greedy,
/// YaRN ×4 over 48 positions past the original 32) get the tiny test tokenizer so that llama.cpp accepts them (it refuses
/// a file without `tokenizer.ggml.model`). F16, Q8_0 and Q4_0 exports of models/default are compared with SeekSharp on the
/// same weights with the tolerances each one's arithmetic explains (see <see cref="LlamaCppAgreesOnATypedExport"/>), and
/// greedy decoding is compared token by token. An --mtp export is refused by this llama.cpp build.
/// </summary>
public class LlamaCppGgufTests : IDisposable
{
    private static readonly WorkerPool Pool = new(2);
    private static readonly StringBuilder NativeLog = new();
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-llamacpp-").FullName;
    private readonly ITestOutputHelper _out;

    static LlamaCppGgufTests() =>
        // llama.cpp logs every load at length; keep it for a failure message instead of the test output.
        NativeLogConfig.llama_log_set((level, message) => { lock (NativeLog) NativeLog.Append(message); });

    public LlamaCppGgufTests(ITestOutputHelper output) => _out = output;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static readonly string[] Texts =
    [
        "SeekSharp is a C# implementation of DeepSeek-V3.",
        "Hello, world! 12345 + 678 = ?\n\tIndented  line",
        "Ünïcödé, 中文 and emoji 🙂 mixed in.",
    ];

    [Fact]
    public void LlamaCppComputesOurLogitsAndTokensOnTheDefaultModelsF32Export()
    {
        string path = Path.Combine(_tmp, "default-f32.gguf");
        GgufExporter.Export(GgufRoundTripTests.DefaultModel, path, GgufTensorType.F32, false);
        var tokenizer = Tokenizer.Load(path);

        using var weights = LoadInLlamaCpp(path, out var p);
        foreach (string text in Texts)
        {
            int[] llamaIds = weights.Tokenize(text, true, false, Encoding.UTF8).Select(t => (int)t).ToArray();
            Assert.Equal(tokenizer.Encode(text, addBos: true), llamaIds);
        }

        CompareLogits(path, weights, p, tokenizer.Encode(Texts[0] + " " + Texts[1], addBos: true), "default");

        // Greedy decoding, token by token through each engine's KV cache: the same tokens (logits agree to ~1e-6, far
        // below any top-2 margin met here).
        using var ours = ModelLoader.Load(path);
        foreach (string prompt in GreedyPrompts)
        {
            var ids = tokenizer.Encode(prompt, addBos: true);
            Assert.Equal(GreedyOurs(ours, ids, GreedyTokens), GreedyLlama(weights, p, ids, GreedyTokens));
        }
    }

    private static readonly string[] GreedyPrompts = ["Once upon a time", "In computing,", "Water boils at"];
    private const int GreedyTokens = 16;

    /// <summary>
    /// F16, Q8_0 and Q4_0 exports of models/default: llama.cpp's logits against SeekSharp's on the same weights (the .gguf,
    /// and for Q8_0/Q4_0 also SeekSharp's own quantised folder, which gives bit-identical logits), and greedy decoding.
    /// The engines do not run the same arithmetic, so the tolerances are what that difference explains, measured here
    /// (per position: r = max |a−b| / max |b|):
    /// <list type="bullet">
    /// <item>F16: SeekSharp widens F16 weights and keeps activations F32 (its logits equal the F32 computation on the same
    /// values, bit for bit), while ggml's CPU F16 product rounds the activations to F16 first (vec_dot_type F16), a
    /// relative error of up to 2⁻¹¹ ≈ 4.9e-4 per element. Measured worst r = 7.7e-4, top-1 equal everywhere; asserted
    /// r ≤ 2e-3 and equal greedy tokens (16 for one prompt; 32 agreed on 7 prompts when measured).</item>
    /// <item>Q8_0/Q4_0: both engines quantise activations to int8 blocks of 32 with the same codes (round(x·127/amax),
    /// half to even) for every quantised product, but ggml stores each block's scale amax/127 as F16 and SeekSharp keeps it
    /// F32. Rounding SeekSharp's scale to F16 (an experiment, not kept) made the first positions agree to 2e-7; after
    /// that a last-bit difference (RoPE, summation order) flips a code now and then, and one flipped code moves a
    /// product by ~1e-3 relative. So the engines differ by about as much as each differs from the exact product
    /// (dequantised weights, float activations): measured median r 6.2e-3 (Q8_0) and 1.0e-2 (Q4_0) against SeekSharp's
    /// 7.6e-3 / 8.8e-3 from exact, worst 1.4e-2 / 1.9e-1 where an MoE routing decision sits near a tie (there llama.cpp
    /// is 1.9e-1 from exact, SeekSharp 9e-3). Those figures are version 2 of the default model; version 3 (retrained
    /// chat tuning) measures Q8_0 median r 1.41e-2 against SeekSharp's 1.36e-2 from exact, worst 1.6e-1 for both (a routing
    /// near-tie that SeekSharp's own Q8_0 product meets too). Asserted, for both types: median r ≤ 2e-2 and ≤ 1.5 ×
    /// SeekSharp's own median distance from exact, worst r ≤ 3e-1, top-1 equal at ≥ 90% of positions. A wrong scale,
    /// nibble order or tensor layout gives r ~ 1.</item>
    /// <item>Greedy Q8_0/Q4_0: decoding follows near-ties, so after some tokens the engines may pick different ones
    /// (measured over 7 prompts × 32 tokens: Q8_0 agreed fully on 2, otherwise for 5–28 tokens; with the scale rounded
    /// to F16, all 7). Asserted: the first 4 of 16 tokens for each of 3 prompts (measured 5, 16, 16 for Q8_0 and 16,
    /// 16, 10 for Q4_0).</item>
    /// </list>
    /// </summary>
    [Theory]
    [InlineData(GgufTensorType.F16)]
    [InlineData(GgufTensorType.Q8_0)]
    [InlineData(GgufTensorType.Q4_0)]
    public void LlamaCppAgreesOnATypedExport(GgufTensorType type)
    {
        // models/default is stored Q8_0 (its Q8_0 export copies the blocks); the Q4_0 export requantises those values,
        // and its folder is that model saved (the exporter's and `seeksharp quantize`'s blocks are the same bytes:
        // GgufRoundTripTests.QuantisedExportOfAQuantisedModelIsTheSameWeights).
        string path = Path.Combine(_tmp, $"default-{type}.gguf");
        GgufExporter.Export(GgufRoundTripTests.DefaultModel, path, type, false);
        string folder = GgufRoundTripTests.DefaultModel;
        if (type == GgufTensorType.Q4_0)
        {
            folder = Path.Combine(_tmp, "default-q4_0");
            using var m = ModelLoader.Load(path);
            ModelSaver.Save(m, folder);
        }
        var tokenizer = Tokenizer.Load(path);
        int[] tokens = tokenizer.Encode(Texts[0] + " " + Texts[1], addBos: true);

        using var weights = LoadInLlamaCpp(path, out var p);
        using var ours = ModelLoader.Load(path);
        int vocab = ours.Config.VocabSize;
        float[] llama = LlamaLogits(weights, p, tokens), mine = OurLogits(ours, tokens);
        double[] r = PerPosition(llama, mine, vocab);
        int top1 = Enumerable.Range(0, tokens.Length).Count(i => ArgMax(llama.AsSpan(i * vocab, vocab)) == ArgMax(mine.AsSpan(i * vocab, vocab)));
        _out.WriteLine($"{type}: {tokens.Length} positions, r median {Median(r):E2} worst {r.Max():E2}, top-1 equal at {top1}");

        if (type == GgufTensorType.F16)
        {
            Assert.True(r.Max() <= 2e-3, $"F16: r = {r.Max():E3}");
            Assert.Equal(tokens.Length, top1);
        }
        else
        {
            using (var quantisedFolder = ModelLoader.Load(folder))
                Assert.Equal(mine, OurLogits(quantisedFolder, tokens));
            double[] own = PerPosition(mine, OurLogits(Dequantised(path), tokens), vocab);
            _out.WriteLine($"  SeekSharp from exact: median {Median(own):E2} worst {own.Max():E2}");
            const double median = 2e-2, worst = 3e-1;
            Assert.True(Median(r) <= median && Median(r) <= 1.5 * Median(own), $"{type}: median r = {Median(r):E3} (SeekSharp from exact {Median(own):E3})");
            Assert.True(r.Max() <= worst, $"{type}: worst r = {r.Max():E3}");
            Assert.True(top1 >= 0.9 * tokens.Length, $"{type}: top-1 equal at {top1} of {tokens.Length}");
        }

        // (F16 decoding widens every matrix on each call: one prompt is enough there.)
        foreach (string prompt in type == GgufTensorType.F16 ? GreedyPrompts[..1] : GreedyPrompts)
        {
            var ids = tokenizer.Encode(prompt, addBos: true);
            int[] a = GreedyOurs(ours, ids, GreedyTokens), b = GreedyLlama(weights, p, ids, GreedyTokens);
            int same = a.Zip(b).TakeWhile(x => x.First == x.Second).Count();
            _out.WriteLine($"  greedy '{prompt}': {same}/{GreedyTokens} tokens agree");
            Assert.True(same >= (type == GgufTensorType.F16 ? GreedyTokens : 4), $"{type} greedy '{prompt}': {same} tokens agree\n{string.Join(",", a)}\n{string.Join(",", b)}");
        }
    }

    /// <summary>
    /// An --mtp export (the file GGUF_DEEPSEEK2.md describes: block_count = trunk + 1, nextn_predict_layers = 1, block N
    /// a full MoE decoder layer plus nextn.eh_proj/enorm/hnorm/shared_head_norm). This llama.cpp build (LLamaSharp
    /// 0.30.0) does not read deepseek2.nextn_predict_layers: it takes block N for a 7th trunk layer, loads its attn/ffn
    /// tensors and refuses the four nextn ones ("done_getting_tensors: wrong number of tensors; expected 128, got 124").
    /// A build that loads the file must give the trunk's logits.
    /// </summary>
    [Fact]
    public void LlamaCppRefusesAnMtpExportOrComputesTheTrunk()
    {
        string path = Path.Combine(_tmp, "default-mtp.gguf");
        GgufExporter.Export(GgufRoundTripTests.DefaultModel, path, GgufTensorType.Q8_0, mtp: true);
        var c = ModelConfig.Load(Path.Combine(GgufRoundTripTests.DefaultModel, "config.json"));
        int n = c.NumHiddenLayers;
        using (var f = GgufFile.Open(path))
        {
            Assert.Equal((uint)(n + 1), f.Get<uint>("deepseek2.block_count"));
            Assert.Equal(1u, f.Get<uint>("deepseek2.nextn_predict_layers"));
            var mtpBlock = f.Tensors.Select(t => t.Name).Where(t => t.StartsWith($"blk.{n}.", StringComparison.Ordinal)).Select(t => t[$"blk.{n}.".Length..]).ToHashSet();
            var moeBlock = f.Tensors.Select(t => t.Name).Where(t => t.StartsWith($"blk.{n - 1}.", StringComparison.Ordinal)).Select(t => t[$"blk.{n - 1}.".Length..]);
            string[] nextn = ["nextn.eh_proj.weight", "nextn.enorm.weight", "nextn.hnorm.weight", "nextn.shared_head_norm.weight"];
            Assert.Equal(moeBlock.Concat(nextn).Order(), mtpBlock.Order());   // embedding and head shared: not written
            Assert.Contains("ffn_gate_inp.weight", mtpBlock);
            Assert.Contains("attn_q_a.weight", mtpBlock);
        }

        LLamaWeights weights;
        LLama.Common.ModelParams p;
        try { weights = LoadInLlamaCpp(path, out p); }
        catch (InvalidOperationException e)
        {
            Assert.Contains("wrong number of tensors", e.Message);
            return;
        }
        using (weights)
        {
            using var ours = ModelLoader.Load(path);
            var tokens = Tokenizer.Load(path).Encode(Texts[0], addBos: true);
            double[] r = PerPosition(LlamaLogits(weights, p, tokens), OurLogits(ours, tokens), ours.Config.VocabSize);
            Assert.True(Median(r) <= 1e-2, $"mtp export: median r = {Median(r):E3}");
        }
    }

    // The model of a quantised file computed exactly: its weights dequantised to F32, activations not quantised.
    private static DeepSeekModel Dequantised(string path)
    {
        var model = ModelLoader.Load(path);
        foreach (var prm in model.Parameters.Where(x => x.HasValues && x.Quantized is not null))
        {
            var values = new float[(long)prm.Rows * prm.Cols];
            prm.Weight.Dequantize(values);
            prm.SetWeight(DenseWeight.Wrap(values, prm.Rows, prm.Cols));
        }
        return model;
    }

    // Per position: max |a − b| / max |b|.
    private static double[] PerPosition(float[] a, float[] b, int vocab)
    {
        var r = new double[a.Length / vocab];
        for (int i = 0; i < r.Length; i++)
        {
            double maxDiff = 0, maxRef = 0;
            for (int j = i * vocab; j < (i + 1) * vocab; j++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(a[j] - b[j]));
                maxRef = Math.Max(maxRef, Math.Abs(b[j]));
            }
            r[i] = maxDiff / maxRef;
        }
        return r;
    }

    private static double Median(double[] x)
    {
        var s = x.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private static float[] OurLogits(DeepSeekModel model, int[] tokens)
    {
        var state = model.CreateState();
        model.Forward(new ForwardContext(Pool), tokens, BatchLayout.Single(tokens.Length), state, new ForwardRequest());
        return state.Logits.ToArray();
    }

    private static float[] LlamaLogits(LLamaWeights weights, LLama.Common.ModelParams p, int[] tokens)
    {
        int vocab = weights.Vocab.Count;
        using var context = weights.CreateContext(p);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add((LLamaToken)tokens[i], i, (LLamaSeqId)0, true);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        var result = new float[tokens.Length * vocab];
        for (int i = 0; i < tokens.Length; i++) context.NativeHandle.GetLogitsIth(i).CopyTo(result.AsSpan(i * vocab));
        return result;
    }

    // Greedy decoding as SeekSharp serves it: a prefill, then one token at a time through the KV cache.
    private static int[] GreedyOurs(DeepSeekModel model, int[] prompt, int count)
    {
        var session = new InferenceSession(model, 128, Pool);
        var result = new int[count];
        result[0] = ArgMax(session.Append(prompt));
        for (int i = 1; i < count; i++) result[i] = ArgMax(session.Append(result.AsSpan(i - 1, 1)));
        return result;
    }

    private static int[] GreedyLlama(LLamaWeights weights, LLama.Common.ModelParams p, int[] prompt, int count)
    {
        using var context = weights.CreateContext(p);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++) batch.Add((LLamaToken)prompt[i], i, (LLamaSeqId)0, i == prompt.Length - 1);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        var result = new int[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = ArgMax(context.NativeHandle.GetLogitsIth(i == 0 ? prompt.Length - 1 : 0));
            if (i == count - 1) break;
            batch.Clear();
            batch.Add((LLamaToken)result[i], prompt.Length + i, (LLamaSeqId)0, true);
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        }
        return result;
    }

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void LlamaCppComputesOurLogitsOnAGoldenModelsF32Export(string name)
    {
        var g = new GoldenCase(name);
        string folder = Path.Combine(_tmp, name);
        Directory.CreateDirectory(folder);
        foreach (string file in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(g.Dir, file), Path.Combine(folder, file));
        foreach (string file in Directory.GetFiles(Path.Combine(TestUtil.DataDir, "tiny-tokenizer")))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        string path = Path.Combine(_tmp, name + ".gguf");
        GgufExporter.Export(folder, path, GgufTensorType.F32, false);

        using var weights = LoadInLlamaCpp(path, out var p);
        CompareLogits(path, weights, p, g.Tokens, name);
    }

    private static LLamaWeights LoadInLlamaCpp(string path, out LLama.Common.ModelParams p)
    {
        p = new LLama.Common.ModelParams(path)
        {
            ContextSize = 128,
            BatchSize = 128,
            UBatchSize = 128,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
            GpuLayerCount = 0,
            Threads = 1,   // ggml's workers spin while they wait: on a busy 2-core machine one thread is faster
        };
        lock (NativeLog) NativeLog.Clear();
        try
        {
            return LLamaWeights.LoadFromFile(p);
        }
        catch (Exception e)
        {
            string log;
            lock (NativeLog) log = NativeLog.ToString();
            throw new InvalidOperationException($"llama.cpp refused {Path.GetFileName(path)}:\n{log}", e);
        }
    }

    private void CompareLogits(string path, LLamaWeights weights, LLama.Common.ModelParams p, int[] tokens, string label)
    {
        using var ours = ModelLoader.Load(path);
        var state = ours.CreateState();
        ours.Forward(new ForwardContext(Pool), tokens, BatchLayout.Single(tokens.Length), state, new ForwardRequest());
        float[] expected = state.Logits.ToArray();
        int vocab = ours.Config.VocabSize;
        Assert.Equal(tokens.Length * vocab, expected.Length);
        Assert.Equal(vocab, weights.Vocab.Count);

        using var context = weights.CreateContext(p);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add((LLamaToken)tokens[i], i, (LLamaSeqId)0, true);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));

        double worst = 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            var actual = context.NativeHandle.GetLogitsIth(i);
            double maxDiff = 0, maxRef = 0;
            for (int j = 0; j < vocab; j++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[j] - expected[i * vocab + j]));
                maxRef = Math.Max(maxRef, Math.Abs(expected[i * vocab + j]));
            }
            worst = Math.Max(worst, maxDiff / maxRef);
        }
        _out.WriteLine($"{label}: {tokens.Length} positions, worst max|a-b|/max|b| = {worst:E3}");
        Assert.True(worst < 1e-4, $"{label}: llama.cpp's logits differ from ours by {worst:E3} relative");
    }
}
