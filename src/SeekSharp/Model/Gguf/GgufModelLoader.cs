using SeekSharp.Formats;
using SeekSharp.Formats.Gguf;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Model.Gguf;

/// <summary>
/// Loads a deepseek2 GGUF (F32, F16, Q8_0 and Q4_0 tensors) into a <see cref="DeepSeekModel"/>: the config from the
/// metadata (<see cref="DeepSeek2Metadata.ReadConfig"/>), the tensors mapped back to the checkpoint layout through
/// <see cref="DeepSeek2Layout"/>. Matrices are used where they lie in the mapped file (F32, F16, Q8_0 and Q4_0 views,
/// expert slices included); norms, biases and kv_b are copied, kv_b as float whatever its type in the file (our
/// quantised models keep it unquantised). kv_b comes from <c>attn_k_b</c> + <c>attn_v_b</c> (llama.cpp's absorbed-MLA
/// layout) or from the legacy unsplit <c>attn_kv_b</c> of older converters; a file with both (ik_llama.cpp's converter
/// keeps attn_kv_b beside the halves) is read from the halves. The model keeps the file open until disposed. An
/// unknown, missing or mis-shaped tensor is a <see cref="CheckpointException"/> naming it, and so is a block-quantised
/// file loaded for training (<see cref="ModelLoadOptions.MatrixStorage"/> F32), as for a quantised folder. A NaN or
/// infinity is a CheckpointException naming the tensor and element, as for a folder (<see cref="ModelLoadOptions.CheckFinite"/>):
/// in every value read or converted, in every Q8_0/Q4_0 block scale, and in F32/F16 weights used in place when the file
/// fits in half the memory.
/// </summary>
public static class GgufModelLoader
{
    public static DeepSeekModel Load(string path, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ModelLoadOptions();
        var file = GgufFile.Open(path);
        try
        {
            var model = Load(file, options, cancellationToken);
            model.Own(file);
            return model;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static unsafe DeepSeekModel Load(GgufFile f, ModelLoadOptions options, CancellationToken ct)
    {
        var config = DeepSeek2Metadata.ReadConfig(f);
        if (config.MtpDepth > 0 && !f.TryGetTensor($"blk.{config.NumHiddenLayers}.nextn.eh_proj.weight", out _))
            config = config with { NumNextnPredictLayers = 0 };
        if (options.MatrixStorage == ElementType.F32 && f.Tensors.FirstOrDefault(t => t.Type.ToQuantType() is not null) is { } quantised)
            throw new CheckpointException($"{f.Path} holds block-quantised weights ({quantised.Type}, e.g. '{quantised.Name}'); they cannot be trained. Start from the unquantised model.");
        bool Shared(int k) => !f.TryGetTensor($"blk.{config.NumHiddenLayers + k}.nextn.embed_tokens.weight", out _);
        bool joined = f.TryGetTensor(DeepSeek2Layout.JoinedKvBName(0), out _) && !f.TryGetTensor("blk.0.attn_k_b.weight", out _);
        var slots = DeepSeek2Layout.Tensors(config, config.MtpDepth > 0, Shared, joined).ToList();
        var known = slots.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        if (!joined)    // an attn_kv_b beside the halves is redundant: accepted, not read
            for (int i = 0; i < config.NumHiddenLayers + config.MtpDepth; i++) known.Add(DeepSeek2Layout.JoinedKvBName(i));
        foreach (var t in f.Tensors)
            if (!known.Contains(t.Name))
                throw new CheckpointException($"{f.Path}: unexpected tensor '{t.Name}' (not part of a deepseek2 model with this metadata).");
        // Every tensor the metadata asks for, with its shape, before any is allocated: the file's shapes (bounded by its
        // length) then bound the model's, whatever sizes the metadata claims.
        foreach (var slot in slots)
        {
            var info = f.GetTensor(slot.Name);
            if (!info.Dims.AsSpan().SequenceEqual(slot.Dims))
                throw new CheckpointException($"{f.Path}: tensor {info} should have ne {{{string.Join(", ", slot.Dims)}}} for this metadata.");
        }
        var model = DeepSeekModel.CreateEmpty(config);
        float[]? keyB = null;
        int done = 0;
        long totalBytes = f.Tensors.Sum(t => t.ByteSize), bytesRead = 0;
        // NaN and infinity, as for a folder (docs/reliability.md): always in what is read, in place when the file fits in half the memory.
        var checks = new FiniteChecks(options.CheckFinite != false, options.CheckFinite ?? totalBytes <= GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2);
        foreach (var slot in slots)
        {
            ct.ThrowIfCancellationRequested();
            var info = f.GetTensor(slot.Name);
            switch (slot.Kind)
            {
                case DeepSeek2TensorKind.KeyB:
                    keyB = ReadFloats(f, info, f.Address(info), info.ElementCount, checks);
                    break;
                case DeepSeek2TensorKind.ValueB:
                    var kv = JoinKv(config, keyB!, ReadFloats(f, info, f.Address(info), info.ElementCount, checks));
                    SetKvB(model.GetParameter(slot.Sources[0]), kv, info.Type, options);
                    break;
                case DeepSeek2TensorKind.Plain when slot.Spec.Name.EndsWith(CheckpointLayout.KvBProj, StringComparison.Ordinal):
                    SetKvB(model.GetParameter(slot.Sources[0]), ReadFloats(f, info, f.Address(info), info.ElementCount, checks), info.Type, options);
                    break;
                default:
                    long slice = info.ByteSize / slot.Sources.Length;
                    for (int i = 0; i < slot.Sources.Length; i++)
                    {
                        string name = slot.Sources[i];
                        Parameter p;
                        if (DeepSeekModel.IsMtpCopy(config, name, out _))
                        {
                            p = new Parameter(slot.Spec, storage: null);
                            model.Unshare(name, p);
                        }
                        else
                            p = model.GetParameter(name);
                        p.SetWeight(Weight(f, info, f.Address(info) + i * slice, p, options, checks));
                    }
                    break;
            }
            bytesRead += info.ByteSize;
            options.Progress?.Report(new ModelLoadProgress(++done, slots.Count, bytesRead, totalBytes, slot.Name));
        }
        return model;
    }

    // kv_b is kept in float (F16 when the file has it so), even when a converter quantised it or its halves.
    private static void SetKvB(Parameter kvb, float[] values, GgufTensorType type, ModelLoadOptions options)
    {
        bool half = type == GgufTensorType.F16 && options.MatrixStorage != ElementType.F32;
        kvb.SetWeight(half ? DenseWeight.FromFloat32(ElementType.F16, values, kvb.Rows, kvb.Cols) : DenseWeight.Wrap(values, kvb.Rows, kvb.Cols));
    }

    /// <summary>Whether values read (converted, dequantised) and weights used in place are checked for NaN and infinity.</summary>
    private readonly record struct FiniteChecks(bool Read, bool Views);

    private static unsafe WeightMatrix Weight(GgufFile f, GgufTensorInfo info, byte* address, Parameter p, ModelLoadOptions options, FiniteChecks checks)
    {
        int rows = p.Rows, cols = p.Cols;
        long count = (long)rows * cols;
        if (!p.IsMatrixLike || options.MatrixStorage == ElementType.F32)
            return DenseWeight.Wrap(ReadFloats(f, info, address, count, checks), rows, cols);
        if (options.Quantization is { } q && ModelQuantizer.IsQuantizable(p.Spec) && info.Type.ToQuantType() != q)
            return WeightMatrix.FromFloat32(q.ToWeightFormat(), ReadFloats(f, info, address, count, checks), rows, cols, options.Pool);
        if (checks.Views) CheckFinite(f, info, address, count);
        WeightMatrix view = info.Type switch
        {
            GgufTensorType.F32 => DenseWeight.View(ElementType.F32, rows, cols, address, f),
            GgufTensorType.F16 => DenseWeight.View(ElementType.F16, rows, cols, address, f),
            _ => new BlockQuantWeight(QuantView(f, info, rows, cols, address)),
        };
        if (options.MatrixStorage is { } st && view.Format != st.ToWeightFormat())
        {
            var values = new float[count];
            view.Dequantize(values);
            return DenseWeight.FromFloat32(st, values, rows, cols);
        }
        return view;
    }

    // A tensor (or an expert's slice of one) as float32.
    private static unsafe float[] ReadFloats(GgufFile f, GgufTensorInfo info, byte* address, long count, FiniteChecks checks)
    {
        var values = new float[checked((int)count)];
        switch (info.Type)
        {
            case GgufTensorType.F32:
                new ReadOnlySpan<float>(address, values.Length).CopyTo(values);
                break;
            case GgufTensorType.F16:
                Tensors.Kernels.HalfConversion.ToSingle(ElementType.F16, new ReadOnlySpan<ushort>(address, values.Length), values);
                break;
            default:
                int cols = (int)info.Dims[0];
                QuantView(f, info, (int)(count / cols), cols, address).Dequantize(values);
                break;
        }
        if (checks.Read && FiniteCheck.FindNonFinite(values) is var at and >= 0)
            throw NonFinite(f, info, at, float.IsNaN(values[(int)at]) ? "a NaN" : values[(int)at] > 0 ? "+infinity" : "-infinity");
        return values;
    }

    // Q8_0/Q4_0 blocks in place; their F16 scales are checked (not NaN or infinite) by QuantizedMatrix.
    private static unsafe QuantizedMatrix QuantView(GgufFile f, GgufTensorInfo info, int rows, int cols, byte* address)
    {
        try { return QuantizedMatrix.View(info.Type.ToQuantType()!.Value, rows, cols, address, info.Type.ByteSize((long)rows * cols), f); }
        catch (ArgumentException e) { throw new CheckpointException($"{f.Path}: tensor {info}: {e.Message} The file is corrupt."); }
    }

    // An F32 or F16 weight used in place, scanned in chunks for a NaN or infinity.
    private static unsafe void CheckFinite(GgufFile f, GgufTensorInfo info, byte* address, long count)
    {
        if (info.Type is not (GgufTensorType.F32 or GgufTensorType.F16)) return;
        var dtype = info.Type == GgufTensorType.F32 ? TensorDType.F32 : TensorDType.F16;
        int size = info.Type.BlockBytes();
        const int chunk = 1 << 26;
        for (long offset = 0; offset < count * size; offset += chunk)
        {
            long at = FiniteCheck.FindNonFinite(dtype, new ReadOnlySpan<byte>(address + offset, (int)Math.Min(chunk, count * size - offset)));
            if (at >= 0) throw NonFinite(f, info, offset / size + at, "a NaN or infinity");
        }
    }

    private static CheckpointException NonFinite(GgufFile f, GgufTensorInfo info, long element, string value) =>
        new($"{f.Path}: tensor {info} holds {value} at element {element} (row {element / info.Dims[0]}, column {element % info.Dims[0]}): the file is corrupt, or was saved from a run that diverged.");

    // The inverse of the exporter's split: k_b {dn, Lkv, nh} and v_b {Lkv, dv, nh} back to kv_b [nh·(dn+dv), Lkv].
    private static float[] JoinKv(ModelConfig c, float[] keyB, float[] valueB)
    {
        int dn = c.QkNopeHeadDim, dv = c.VHeadDim, lkv = c.KvLoraRank, per = dn + dv, nh = c.NumAttentionHeads;
        var kv = new float[(long)nh * per * lkv];
        for (int h = 0; h < nh; h++)
        {
            for (int l = 0; l < lkv; l++)
                for (int j = 0; j < dn; j++)
                    kv[((long)h * per + j) * lkv + l] = keyB[((long)h * lkv + l) * dn + j];
            Array.Copy(valueB, (long)h * dv * lkv, kv, ((long)h * per + dn) * lkv, (long)dv * lkv);
        }
        return kv;
    }
}
