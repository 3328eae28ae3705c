using System.Runtime.InteropServices;
using SeekSharp.Formats;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Model;

/// <summary>
/// Writes a model as a Hugging Face folder: config.json and model.safetensors (or shards with an index), every
/// tensor under its checkpoint name; a tensor shared by the main model and an MTP module is written under both
/// names, as DeepSeek's release does. Each file is written to a temporary name and renamed.
/// </summary>
public static class ModelSaver
{
    /// <summary>
    /// Saves as <paramref name="dtype"/> (F32, BF16 or F16; e_score_correction_bias is always F32, architecture.md §18.2), in shards with
    /// model.safetensors.index.json when <paramref name="maxShardBytes"/> is given and exceeded, else one file.
    /// </summary>
    public static void Save(DeepSeekModel model, string directory, TensorDType dtype = TensorDType.F32, long? maxShardBytes = null,
        IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default)
    {
        if (dtype is not (TensorDType.F32 or TensorDType.BF16 or TensorDType.F16))
            throw new InvalidInputException($"Models are saved as F32, BF16 or F16, not {dtype}.");
        Directory.CreateDirectory(directory);
        var tensors = model.NamedParameters().Select(np => ToWrite(np.Name, np.Parameter, dtype)).ToList();
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        if (maxShardBytes is { } max)
            SafetensorsWriter.WriteSharded(directory, tensors, max, meta, cancellationToken);
        else
            SafetensorsWriter.Write(Path.Combine(directory, SafetensorsWriter.SingleFileName), tensors, meta, cancellationToken);
        string torchDtype = dtype switch { TensorDType.BF16 => "bfloat16", TensorDType.F16 => "float16", _ => "float32" };
        var quantized = model.Parameters.Select(p => p.Quantized?.Type).FirstOrDefault(t => t is not null);
        (model.Config with { TorchDtype = torchDtype, QuantizationConfig = quantized is { } q ? ModelQuantizer.ConfigFor(q) : null }).Save(directory);
    }

    private static TensorToWrite ToWrite(string name, Parameter p, TensorDType dtype)
    {
        long[] shape = p.Spec.Shape;
        if (p.Role == ParameterRole.ExpertBias) dtype = TensorDType.F32;
        if (p.Quantized is { } q)
            return TensorToWrite.FromBytes(name, TensorDType.U8, [q.Rows, q.RowBytes], (first, chunk) => q.RawBytes.Slice((int)first, chunk.Length).CopyTo(chunk));
        if (p.Data is { } data) return TensorToWrite.FromFloat32(name, dtype, shape, data);
        var w = p.Weight;
        if (w is DenseWeight dense && dense.ElementType != ElementType.F32 && dtype == (dense.ElementType == ElementType.BF16 ? TensorDType.BF16 : TensorDType.F16))
            return TensorToWrite.FromBytes(name, dtype, shape, (first, chunk) =>
                MemoryMarshal.AsBytes(dense.HalfElements).Slice((int)first, chunk.Length).CopyTo(chunk));
        // Any other storage: its float32 values (FP8 exactly dequantised), row by row.
        var row = new float[w.Cols];
        int rowInBuffer = -1;
        return TensorToWrite.FromFloat32(name, dtype, shape, (first, chunk) =>
        {
            for (int i = 0; i < chunk.Length;)
            {
                long element = first + i;
                int r = (int)(element / w.Cols), c = (int)(element % w.Cols);
                if (r != rowInBuffer) { w.ReadRow(r, row); rowInBuffer = r; }
                int n = Math.Min(chunk.Length - i, w.Cols - c);
                row.AsSpan(c, n).CopyTo(chunk.Slice(i, n));
                i += n;
            }
        });
    }
}
