using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace SeekSharp.Bench;

/// <summary>
/// llama.cpp (LLamaSharp's CPU backend, in this process) on a GGUF file, running the same round as
/// <see cref="DecodeRound"/>: a prefill of the prompt in batches of at most <c>batch</c> tokens, then single-token
/// decode steps feeding back the argmax. F32 KV cache and flash attention off, as in LlamaCppGgufTests.
/// </summary>
internal sealed class LlamaEngine : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();
    private readonly int _maxBatch;

    public LlamaEngine(string gguf, int contextTokens, int maxBatch, int threads)
    {
        NativeLogConfig.llama_log_set((_, _) => { });
        _maxBatch = maxBatch;
        var p = new ModelParams(gguf)
        {
            ContextSize = (uint)contextTokens,
            BatchSize = (uint)maxBatch,
            UBatchSize = (uint)maxBatch,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
    }

    /// <summary>Prefill and decode tokens/s of one round; <paramref name="generated"/> receives the greedy tokens.</summary>
    public (double Prefill, double Decode) Run(int[] prompt, Span<int> generated)
    {
        _context.NativeHandle.MemoryClear();
        var t = Stopwatch.StartNew();
        for (int start = 0; start < prompt.Length; start += _maxBatch)
        {
            int n = Math.Min(_maxBatch, prompt.Length - start);
            _batch.Clear();
            for (int i = start; i < start + n; i++) _batch.Add((LLamaToken)prompt[i], i, (LLamaSeqId)0, i == prompt.Length - 1);
            Check(_context.Decode(_batch));
        }
        double prefill = prompt.Length / t.Elapsed.TotalSeconds;
        int next = DecodeRound.ArgMax(_context.NativeHandle.GetLogitsIth(_batch.TokenCount - 1));
        t.Restart();
        for (int i = 0; i < generated.Length; i++)
        {
            generated[i] = next;
            _batch.Clear();
            _batch.Add((LLamaToken)next, prompt.Length + i, (LLamaSeqId)0, true);
            Check(_context.Decode(_batch));
            next = DecodeRound.ArgMax(_context.NativeHandle.GetLogitsIth(0));
        }
        return (prefill, generated.Length / t.Elapsed.TotalSeconds);
    }

    private static void Check(DecodeResult r)
    {
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {r}");
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
