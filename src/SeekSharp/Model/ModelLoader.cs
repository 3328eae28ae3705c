using SeekSharp.Formats;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Model;

/// <summary>How a checkpoint is loaded.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>
    /// Storage for projection matrices and embeddings. Null keeps the file's format and uses each weight where it lies
    /// in the memory-mapped file: F32, BF16, F16, FP8 (E4M3 with its block scales) and SeekSharp's Q8_0/Q4_0 are viewed,
    /// not copied; only F64 is converted (to F32). F32 gives owned float32 values, which training needs; BF16 or F16
    /// converts (a view when the file already has that type).
    /// </summary>
    public ElementType? MatrixStorage { get; init; }
    /// <summary>
    /// Block-quantise the weights while loading, tensor by tensor, so that memory peaks at about the quantised model
    /// plus one float32 tensor (inference only; see <see cref="ModelQuantizer"/> for which tensors).
    /// </summary>
    public QuantType? Quantization { get; init; }
    /// <summary>Threads for quantising on load.</summary>
    public WorkerPool? Pool { get; init; }
    /// <summary>
    /// Whether a NaN or infinity in a weight is a <see cref="CheckpointException"/> naming the tensor (docs/reliability.md).
    /// Null (the default): values the loader reads anyway (norms, biases, FP8 block scales, anything converted or
    /// quantised on load) are always checked, and weights used in place in the memory-mapped file are scanned too when the
    /// checkpoint's weights fit in half the machine's memory (then the scan's reads are cached for the first forward);
    /// a larger checkpoint loads without reading its bulk. True scans every weight whatever the size; false checks nothing.
    /// Block-quantised Q8_0/Q4_0 weights are not scanned.
    /// </summary>
    public bool? CheckFinite { get; init; }
    public IProgress<ModelLoadProgress>? Progress { get; init; }
}

/// <summary>Loading progress: tensors and bytes done so far.</summary>
public sealed record ModelLoadProgress(int TensorsLoaded, int TotalTensors, long BytesRead, long TotalBytes, string CurrentTensor);

/// <summary>
/// Builds a <see cref="DeepSeekModel"/> from a Hugging Face folder (config.json + safetensors, one file or sharded)
/// or a GGUF file (<see cref="Gguf.GgufModelLoader"/>),
/// checking every tensor against <see cref="CheckpointLayout"/>: an unknown, missing or mis-shaped tensor is a
/// <see cref="CheckpointException"/> naming it. Weights are used in place in the memory-mapped files when their stored
/// format is one the kernels compute with (see <see cref="ModelLoadOptions.MatrixStorage"/>); the model then keeps the
/// files open until it is disposed.
/// </summary>
public static class ModelLoader
{
    public static DeepSeekModel Load(string directory, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (ModelPath.IsGguf(directory)) return Gguf.GgufModelLoader.Load(directory, options, cancellationToken);
        if (!Directory.Exists(directory)) throw new CheckpointException($"Model folder not found: {directory}");
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        var source = Checkpoint.Open(directory, null, cancellationToken);
        try
        {
            var model = Load(config, source, options, cancellationToken);
            model.Own(source);
            return model;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads from an open source. Weights may be views into <paramref name="source"/>'s memory: the caller keeps it
    /// open (and undisposed) as long as the model is used, or hands it to the model with <see cref="DeepSeekModel.Own"/>.
    /// </summary>
    public static DeepSeekModel Load(ModelConfig config, ITensorSource source, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ModelLoadOptions();
        config = WithoutAbsentMtp(config, source);
        CheckForUnknownTensors(config, source);
        var stored = config.QuantizationConfig is { QuantMethod: ModelQuantizer.QuantMethod } qc ? ModelQuantizer.Parse(qc.WeightType!) : (QuantType?)null;
        if (stored is not null && options.MatrixStorage == ElementType.F32)
            throw new CheckpointException($"{source.Location} holds block-quantised weights ({config.QuantizationConfig!.WeightType}); they cannot be trained. Start from the unquantised model.");
        var model = DeepSeekModel.CreateEmpty(config);
        var specs = CheckpointLayout.All(config).ToList();
        long totalBytes = specs.Sum(s => source.Tensors.TryGetValue(s.Name, out var i) ? i.ByteLength : 0);
        bool checkRead = options.CheckFinite != false;
        bool checkViews = options.CheckFinite ?? totalBytes <= GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        var reader = new TensorReader(source, options, stored, BlockSize(config), checkRead, checkViews);
        long bytesRead = 0;
        int done = 0;
        foreach (var spec in specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = source.Get(spec.Name);
            if (DeepSeekModel.IsMtpCopy(config, spec.Name, out var mainName))
            {
                // DeepSeek's files hold byte copies of the embedding and head in the MTP layer: share them then.
                if (!SameBytes(source, spec.Name, mainName))
                {
                    var own = new Parameter(spec, storage: null);
                    reader.Read(spec, info, own);
                    model.Unshare(spec.Name, own);
                }
            }
            else
                reader.Read(spec, info, model.GetParameter(spec.Name));
            bytesRead += info.ByteLength;
            options.Progress?.Report(new ModelLoadProgress(++done, specs.Count, bytesRead, totalBytes, spec.Name));
        }
        return model;
    }

    // Reads one tensor into its parameter in the storage the options ask for.
    private sealed unsafe class TensorReader(ITensorSource source, ModelLoadOptions options, QuantType? stored, (int Rows, int Cols) block,
        bool checkRead, bool checkViews)
    {
        public void Read(ParameterSpec spec, TensorInfo info, Parameter p)
        {
            if (stored is { } type && info.DType == TensorDType.U8 && ModelQuantizer.IsQuantizable(spec))
            {
                p.SetWeight(ReadQuantized(spec, info, type));
                return;
            }
            CheckShape(spec, info, source);
            if (!p.IsMatrixLike || info.DType == TensorDType.F64)
            {
                p.SetWeight(DenseWeight.Wrap(ReadFloat32(info), p.Rows, p.Cols));
                if (p.IsMatrixLike) Convert(spec, p);
                return;
            }
            if (options.Quantization is { } q && ModelQuantizer.IsQuantizable(spec))
            {
                p.SetWeight(WeightMatrix.FromFloat32(q.ToWeightFormat(), ReadFloat32(info), p.Rows, p.Cols, options.Pool));
                return;
            }
            if (options.MatrixStorage == ElementType.F32)
            {
                p.SetWeight(DenseWeight.Wrap(ReadFloat32(info), p.Rows, p.Cols));
                return;
            }
            var view = View(info, p);
            if (view is not null) p.SetWeight(view);
            else p.SetWeight(DenseWeight.Wrap(ReadFloat32(info), p.Rows, p.Cols));
            Convert(spec, p);
        }

        // BF16 or F16 asked for, and the file holds something else.
        private void Convert(ParameterSpec spec, Parameter p)
        {
            if (options.MatrixStorage is { } st && st != ElementType.F32 && p.Format != st.ToWeightFormat())
                p.SetWeight(DenseWeight.FromFloat32(st, p.ToFloat32(), p.Rows, p.Cols));
        }

        // The weight where it lies in the mapped file, when its format is one the kernels compute with.
        private WeightMatrix? View(TensorInfo info, Parameter p)
        {
            byte* address = MappedTensors.TryGetAddress(source, info.Name);
            if (address == null) return null;
            if (checkViews && info.DType is TensorDType.F32 or TensorDType.BF16 or TensorDType.F16 or TensorDType.F8_E4M3)
                FiniteCheck.Check(source, info);
            switch (info.DType)
            {
                case TensorDType.F32: return DenseWeight.View(ElementType.F32, p.Rows, p.Cols, address, source);
                case TensorDType.BF16: return DenseWeight.View(ElementType.BF16, p.Rows, p.Cols, address, source);
                case TensorDType.F16: return DenseWeight.View(ElementType.F16, p.Rows, p.Cols, address, source);
                case TensorDType.F8_E4M3:
                    var scales = ReadScales(info, p.Rows, p.Cols);
                    try { return Fp8BlockWeight.View(address, scales, p.Rows, p.Cols, block.Rows, block.Cols, source); }
                    catch (ArgumentException e) { throw new CheckpointException($"{source.Location}: tensor '{info.Name}': {e.Message}"); }
                default: return null;
            }
        }

        private float[] ReadScales(TensorInfo info, int rows, int cols)
        {
            string name = CheckpointLayout.ScaleName(info.Name);
            var scaleInfo = source.Get(name);
            long expected = (long)Fp8BlockQuantization.BlockCount(rows, block.Rows) * Fp8BlockQuantization.BlockCount(cols, block.Cols);
            if (scaleInfo.ElementCount != expected)
                throw new CheckpointException($"{source.Location}: '{name}' has {scaleInfo.ElementCount} scales; [{rows}, {cols}] in {block.Rows}×{block.Cols} blocks needs {expected}.");
            var scales = new float[expected];
            source.ReadFloat32(name, scales);
            if (checkRead) FiniteCheck.Check(source.Location, scaleInfo, scales);
            return scales;
        }

        private float[] ReadFloat32(TensorInfo info)
        {
            var values = new float[checked((int)info.ElementCount)];
            source.ReadWeightFloat32(info.Name, values, block.Rows, block.Cols);
            if (checkRead) FiniteCheck.Check(source.Location, info, values);
            return values;
        }

        // A block-quantised matrix: U8 [rows, bytes per row], viewed in the file (copied when the source is not mapped).
        private WeightMatrix ReadQuantized(ParameterSpec spec, TensorInfo info, QuantType type)
        {
            int rows = (int)spec.Shape[0], cols = (int)spec.Shape[1];
            long bytes = QuantizedMatrix.ByteSizeOf(type, rows, cols);
            if (info.Shape is not [var r, var b] || r != rows || r * b != bytes)
                throw new CheckpointException($"{source.Location}: quantised tensor '{spec.Name}' has shape [{string.Join(", ", info.Shape)}], expected [{rows}, {bytes / rows}] for {type} [{rows}, {cols}].");
            try
            {
                byte* address = MappedTensors.TryGetAddress(source, spec.Name);
                var matrix = address != null
                    ? QuantizedMatrix.View(type, rows, cols, address, bytes, source)
                    : QuantizedMatrix.FromRaw(type, rows, cols, source.GetBytes(spec.Name));
                return new BlockQuantWeight(matrix);
            }
            catch (ArgumentException e)
            {
                throw new CheckpointException($"{source.Location}: quantised tensor '{spec.Name}': {e.Message}");
            }
        }
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

    private static (int Rows, int Cols) BlockSize(ModelConfig config) =>
        config.QuantizationConfig?.WeightBlockSize is [var r, var c] ? (r, c) : (128, 128);

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
