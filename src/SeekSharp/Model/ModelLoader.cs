using System.Runtime.InteropServices;
using SeekSharp.Formats;
using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>How a checkpoint is loaded.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>
    /// Storage for projection matrices and embeddings. Null keeps the file's precision: BF16 and F16 stay 16-bit,
    /// F32 and FP8 (dequantised) become float32. Training needs F32.
    /// </summary>
    public ElementType? MatrixStorage { get; init; }
    /// <summary>Block-quantise the weights after loading (inference only; see <see cref="ModelQuantizer"/>).</summary>
    public SeekSharp.Tensors.Quantization.QuantType? Quantization { get; init; }
    /// <summary>Threads for quantising on load.</summary>
    public WorkerPool? Pool { get; init; }
    public IProgress<ModelLoadProgress>? Progress { get; init; }
}

/// <summary>Loading progress: tensors and bytes done so far.</summary>
public sealed record ModelLoadProgress(int TensorsLoaded, int TotalTensors, long BytesRead, long TotalBytes, string CurrentTensor);

/// <summary>
/// Builds a <see cref="DeepSeekModel"/> from a Hugging Face folder (config.json + safetensors, one file or sharded),
/// checking every tensor against <see cref="CheckpointLayout"/>: an unknown, missing or mis-shaped tensor is a
/// <see cref="CheckpointException"/> naming it. FP8 weights are dequantised with their 128×128 block scales.
/// </summary>
public static class ModelLoader
{
    public static DeepSeekModel Load(string directory, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(directory)) throw new CheckpointException($"Model folder not found: {directory}");
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        using var source = Checkpoint.Open(directory, null, cancellationToken);
        return Load(config, source, options, cancellationToken);
    }

    public static DeepSeekModel Load(ModelConfig config, ITensorSource source, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ModelLoadOptions();
        config = WithoutAbsentMtp(config, source);
        CheckForUnknownTensors(config, source);
        var quantized = config.QuantizationConfig is { QuantMethod: ModelQuantizer.QuantMethod } qc ? ModelQuantizer.Parse(qc.WeightType!) : (SeekSharp.Tensors.Quantization.QuantType?)null;
        if (quantized is not null && options.MatrixStorage == ElementType.F32)
            throw new CheckpointException($"{source.Location} holds block-quantised weights ({config.QuantizationConfig!.WeightType}); they cannot be trained. Start from the unquantised model.");
        var storage = options.MatrixStorage ?? StorageFor(source.Get(CheckpointLayout.Embed).DType);
        var model = DeepSeekModel.Create(config, storage);
        var (blockRows, blockCols) = BlockSize(config);
        var specs = CheckpointLayout.All(config).ToList();
        long totalBytes = specs.Sum(s => source.Tensors.TryGetValue(s.Name, out var i) ? i.ByteLength : 0);
        long bytesRead = 0;
        int done = 0;
        foreach (var spec in specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = source.Get(spec.Name);
            if (quantized is { } qt && info.DType == TensorDType.U8 && ModelQuantizer.IsQuantizable(spec))
            {
                ReadQuantized(source, info, spec, qt, model);
                bytesRead += info.ByteLength;
                options.Progress?.Report(new ModelLoadProgress(++done, specs.Count, bytesRead, totalBytes, spec.Name));
                continue;
            }
            CheckShape(spec, info, source);
            if (DeepSeekModel.IsMtpCopy(config, spec.Name, out var mainName))
            {
                // DeepSeek's files hold byte copies of the embedding and head in the MTP layer: share them then.
                if (!SameBytes(source, spec.Name, mainName))
                {
                    var own = new Parameter(spec, storage);
                    Read(source, info, own, blockRows, blockCols);
                    model.Unshare(spec.Name, own);
                }
            }
            else
                Read(source, info, model.GetParameter(spec.Name), blockRows, blockCols);
            bytesRead += info.ByteLength;
            options.Progress?.Report(new ModelLoadProgress(++done, specs.Count, bytesRead, totalBytes, spec.Name));
        }
        if (options.Quantization is { } q) ModelQuantizer.Quantize(model, q, options.Pool);
        return model;
    }

    // A block-quantised matrix: U8 [rows, bytes per row], read as is.
    private static void ReadQuantized(ITensorSource source, TensorInfo info, ParameterSpec spec, SeekSharp.Tensors.Quantization.QuantType type, DeepSeekModel model)
    {
        int rows = (int)spec.Shape[0], cols = (int)spec.Shape[1];
        long bytes = SeekSharp.Tensors.Quantization.QuantizedMatrix.ByteSizeOf(type, rows, cols);
        if (info.Shape is not [var r, var b] || r != rows || r * b != bytes)
            throw new CheckpointException($"{source.Location}: quantised tensor '{spec.Name}' has shape [{string.Join(", ", info.Shape)}], expected [{rows}, {bytes / rows}] for {type} [{rows}, {cols}].");
        var raw = new byte[bytes];
        const int chunk = 1 << 26;
        for (long o = 0; o < bytes; o += chunk)
        {
            int n = (int)Math.Min(chunk, bytes - o);
            source.GetBytes(spec.Name, o, n).CopyTo(raw.AsSpan((int)o, n));
        }
        var matrix = SeekSharp.Tensors.Quantization.QuantizedMatrix.FromRaw(type, rows, cols, raw);
        if (DeepSeekModel.IsMtpCopy(model.Config, spec.Name, out var main))
        {
            if (!SameBytes(source, spec.Name, main))
            {
                var own = new Parameter(spec);
                own.SetQuantized(matrix);
                model.Unshare(spec.Name, own);
            }
            return;
        }
        model.GetParameter(spec.Name).SetQuantized(matrix);
    }

    /// <summary>Checkpoints saved by tools that drop the MTP layer (transformers, convert.py) load without it.</summary>
    private static ModelConfig WithoutAbsentMtp(ModelConfig config, ITensorSource source)
    {
        if (config.MtpDepth == 0) return config;
        string pre = CheckpointLayout.LayerPrefix(config.NumHiddenLayers);
        bool any = source.Tensors.Keys.Any(k => k.StartsWith(pre, StringComparison.Ordinal));
        return any ? config : config with { NumNextnPredictLayers = 0 };
    }

    private static void CheckForUnknownTensors(ModelConfig config, ITensorSource source)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in CheckpointLayout.All(config))
        {
            known.Add(spec.Name);
            if (CheckpointLayout.IsFp8Quantized(spec)) known.Add(CheckpointLayout.ScaleName(spec.Name));
        }
        foreach (var name in source.Tensors.Keys)
            if (!known.Contains(name))
                throw new CheckpointException($"{source.Location}: unexpected tensor '{name}' (not part of a model with this config.json).");
    }

    private static void CheckShape(ParameterSpec spec, TensorInfo info, ITensorSource source)
    {
        if (!info.Shape.AsSpan().SequenceEqual(spec.Shape))
            throw new CheckpointException($"{source.Location}: tensor '{spec.Name}' has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", spec.Shape)}] from config.json.");
        if (info.DType is not (TensorDType.F32 or TensorDType.BF16 or TensorDType.F16 or TensorDType.F64 or TensorDType.F8_E4M3))
            throw new CheckpointException($"{source.Location}: tensor '{spec.Name}' has dtype {info.DType}, which a model weight cannot have.");
    }

    private static ElementType StorageFor(TensorDType fileType) => fileType switch
    {
        TensorDType.BF16 => ElementType.BF16,
        TensorDType.F16 => ElementType.F16,
        _ => ElementType.F32,
    };

    private static (int Rows, int Cols) BlockSize(ModelConfig config) =>
        config.QuantizationConfig?.WeightBlockSize is [var r, var c] ? (r, c) : (128, 128);

    private static void Read(ITensorSource source, TensorInfo info, Parameter p, int blockRows, int blockCols)
    {
        // 16-bit in the file and in memory: copy the bits, no rounding on the way.
        if (p.HalfData is { } half && ((info.DType == TensorDType.BF16 && p.StorageType == ElementType.BF16) ||
                                       (info.DType == TensorDType.F16 && p.StorageType == ElementType.F16)))
        {
            CopyHalf(source, info, half);
            return;
        }
        if (p.Data is { } data)
        {
            source.ReadWeightFloat32(info.Name, data, blockRows, blockCols);
            return;
        }
        var values = new float[p.Size];
        source.ReadWeightFloat32(info.Name, values, blockRows, blockCols);
        p.SetValues(values);
    }

    private static void CopyHalf(ITensorSource source, TensorInfo info, ushort[] destination)
    {
        const int chunk = 1 << 26;
        var bytes = MemoryMarshal.AsBytes(destination.AsSpan());
        for (long offset = 0; offset < info.ByteLength; offset += chunk)
        {
            int count = (int)Math.Min(chunk, info.ByteLength - offset);
            source.GetBytes(info.Name, offset, count).CopyTo(bytes.Slice((int)offset, count));
        }
    }

    private static bool SameBytes(ITensorSource source, string a, string b)
    {
        var ia = source.Get(a);
        var ib = source.Get(b);
        if (ia.DType != ib.DType || ia.ByteLength != ib.ByteLength) return false;
        const int chunk = 1 << 26;
        for (long offset = 0; offset < ia.ByteLength; offset += chunk)
        {
            int count = (int)Math.Min(chunk, ia.ByteLength - offset);
            if (!source.GetBytes(a, offset, count).SequenceEqual(source.GetBytes(b, offset, count))) return false;
        }
        return true;
    }
}
