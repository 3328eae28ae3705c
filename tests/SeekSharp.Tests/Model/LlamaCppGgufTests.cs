using System.Text;
using LLama;
using LLama.Native;
using SeekSharp.Formats.Gguf;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tensors;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Model;

/// <summary>
/// The deepseek2 export checked against llama.cpp itself (LLamaSharp 0.30.0, CPU backend): an F32 export gives
/// llama.cpp's logits within 1e-4 relative (max |a−b| / max |b| per position) at every position, with an F32 KV cache
/// and flash attention off, and llama.cpp's tokenizer gives our ids. models/default (stored Q8_0, so its F32 export holds
/// the dequantised weights) is compared against SeekSharp running the same .gguf; the golden models (q LoRA and none,
/// sigmoid/noaux_tc and softmax/greedy, YaRN ×4 over 48 positions past the original 32) get the tiny test tokenizer
/// so that llama.cpp accepts them (it refuses a file without `tokenizer.ggml.model`).
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
            Threads = 2,
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
