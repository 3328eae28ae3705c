using System.CommandLine;
using System.Globalization;
using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Cli;

/// <summary>Options and helpers several commands share.</summary>
internal static class CliCommon
{
    /// <summary>What a --model (or --init-from) may name; <see cref="ModelPath.Resolve"/> finds the model folder.</summary>
    public const string ModelFolderHelp = "Model folder (config.json, safetensors, tokenizer files), a GGUF file from export gguf, or a training run: RUN, RUN/checkpoints or RUN/checkpoints/latest for its newest checkpoint.";

    public static Option<int> ThreadsOption() => new("--threads")
    {
        Description = "Worker threads (default: one per core).",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static WorkerPool Pool(int threads) =>
        threads > 0 ? new WorkerPool(threads) : throw new UsageException($"--threads must be positive, got {threads}.");

    /// <summary>Loads a model folder, reporting progress on stderr (every 10% for large checkpoints) and a summary line.</summary>
    public static DeepSeekModel LoadModel(string directory, TextWriter stderr, ModelLoadOptions? options = null, CancellationToken ct = default)
    {
        int lastDecile = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var progress = new SyncProgress<ModelLoadProgress>(p =>
        {
            if (p.TotalBytes < 256L << 20) return;
            int decile = (int)(10 * p.BytesRead / p.TotalBytes);
            if (decile <= lastDecile || decile == 10) return;
            lastDecile = decile;
            stderr.WriteLine($"loading {directory}: {decile * 10}% ({p.TensorsLoaded}/{p.TotalTensors} tensors)");
        });
        var model = ModelLoader.Load(directory, (options ?? new ModelLoadOptions()) with { Progress = progress }, ct);
        var a = ModelAccounting.For(model.Config);
        stderr.WriteLine($"loaded {directory}: {a.MainParameters / 1e6:F1}M parameters + {a.MtpUniqueParameters / 1e6:F1}M MTP, {DescribeStorage(model)}, in {sw.Elapsed.TotalSeconds:F1} s");
        return model;
    }

    /// <summary>The weights' storage by format, largest first, e.g. "Q8_0 30.1 MB + F32 2.7 MB, mapped".</summary>
    public static string DescribeStorage(DeepSeekModel model)
    {
        var parts = model.Parameters.Where(p => p.HasValues)
            .GroupBy(p => p.Storage)
            .Select(g => (Format: g.Key, Bytes: g.Sum(p => p.Weight.ByteSize)))
            .OrderByDescending(x => x.Bytes)
            .Select(x => $"{x.Format} {x.Bytes / 1e6:F1} MB");
        bool mapped = model.Parameters.Any(p => p.HasValues && p.Weight.IsView);
        return string.Join(" + ", parts) + (mapped ? ", mapped" : "");
    }

    /// <summary>Parses "1,2,3" (commas or whitespace) or a JSON array of integers.</summary>
    public static int[] ParseTokens(string text, string what)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith('[')) trimmed = trimmed.TrimStart('[').TrimEnd(']');
        var parts = trimmed.Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]) || ids[i] < 0)
                throw new UsageException($"{what}: '{parts[i]}' (item {i + 1}) is not a token id.");
        if (ids.Length == 0) throw new UsageException($"{what}: no token ids.");
        return ids;
    }

    /// <summary>Writes float32 little-endian values to a file: temporary name, then rename.</summary>
    public static void WriteFloat32(string path, IEnumerable<float[]> chunks)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
                foreach (var chunk in chunks)
                    stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(chunk.AsSpan()));
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>A cancellation source that Ctrl+C triggers (once; a second Ctrl+C ends the process as usual).</summary>
    public static CtrlCScope CtrlC() => new();

    public sealed class CtrlCScope : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly ConsoleCancelEventHandler _handler;

        public CtrlCScope()
        {
            _handler = (_, e) =>
            {
                if (_cts.IsCancellationRequested) return;
                e.Cancel = true;
                _cts.Cancel();
            };
            Console.CancelKeyPress += _handler;
        }

        public CancellationToken Token => _cts.Token;

        public void Dispose()
        {
            Console.CancelKeyPress -= _handler;
            _cts.Dispose();
        }
    }

    /// <summary>A progress sink that runs on the reporting thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
