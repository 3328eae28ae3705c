using System.Runtime.InteropServices;
using SeekSharp.Formats.Gguf;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using SeekSharp.Tokenization;

namespace SeekSharp.Model.Gguf;

/// <summary>
/// Writes a model folder as a llama.cpp <c>deepseek2</c> GGUF (docs/gguf.md): the metadata keys, the tokenizer, and
/// the tensors renamed, stacked (experts) and split (kv_b into k_b and v_b) as llama.cpp's converter does. The model is
/// opened memory-mapped and written tensor by tensor, so memory stays about one tensor. Norms, the expert bias and the
/// router stay F32; k_b and v_b are F32 (F16 in an f16 file); every other matrix takes <c>type</c> (a matrix whose rows
/// are not a whole number of 32-blocks stays F32 in a quantised file). A matrix already quantised to the requested type
/// is copied byte for byte.
/// </summary>
public static class GgufExporter
{
    /// <summary>Exports <paramref name="modelFolder"/> to <paramref name="path"/>; returns the number of tensors written.</summary>
    public static int Export(string modelFolder, string path, GgufTensorType type, bool mtp, CancellationToken cancellationToken = default)
    {
        using var model = ModelLoader.Load(modelFolder, cancellationToken: cancellationToken);
        var c = model.Config;
        if (mtp && c.MtpDepth == 0)
            throw new InvalidInputException($"{modelFolder} has no MTP layer (num_nextn_predict_layers is 0); export without --mtp.");
        var metadata = DeepSeek2Metadata.Build(c, mtp, type, Path.GetFileName(Path.GetFullPath(modelFolder).TrimEnd(Path.DirectorySeparatorChar)));
        if (Directory.Exists(modelFolder) && File.Exists(Path.Combine(modelFolder, "tokenizer.json")))
            metadata.AddRange(GgufTokenizerMetadata.Build(modelFolder, c.VocabSize));
        bool Shared(int k)
        {
            string pre = CheckpointLayout.LayerPrefix(c.NumHiddenLayers + k);
            return ReferenceEquals(model.GetParameter(pre + CheckpointLayout.MtpEmbed), model.Embed)
                && ReferenceEquals(model.GetParameter(pre + CheckpointLayout.MtpHead), model.Head);
        }
        var tensors = DeepSeek2Layout.Tensors(c, mtp, Shared).Select(t => ToWrite(model, t, TypeFor(t, type))).ToList();
        GgufWriter.Write(path, metadata, tensors, cancellationToken);
        return tensors.Count;
    }

    /// <summary>The type a tensor gets in a file of <paramref name="fileType"/>.</summary>
    public static GgufTensorType TypeFor(DeepSeek2Tensor t, GgufTensorType fileType)
    {
        if (t.AlwaysF32) return GgufTensorType.F32;
        if (t.Kind is DeepSeek2TensorKind.KeyB or DeepSeek2TensorKind.ValueB)
            return fileType == GgufTensorType.F16 ? GgufTensorType.F16 : GgufTensorType.F32;
        if (t.Dims[0] % fileType.BlockSize() != 0) return GgufTensorType.F32;
        return fileType;
    }

    private static GgufTensorToWrite ToWrite(DeepSeekModel model, DeepSeek2Tensor t, GgufTensorType type) => new(t.Name, type, t.Dims, stream =>
    {
        switch (t.Kind)
        {
            case DeepSeek2TensorKind.Plain:
            case DeepSeek2TensorKind.Experts:
                foreach (var source in t.Sources) WriteMatrix(stream, model.GetParameter(source), type, t.Name);
                break;
            default:
                WriteKvHalf(stream, model.Config, model.GetParameter(t.Sources[0]), t.Kind == DeepSeek2TensorKind.KeyB, type, t.Name);
                break;
        }
    });

    private static void WriteMatrix(Stream stream, Parameter p, GgufTensorType type, string name)
    {
        if (type.ToQuantType() is { } q && p.Quantized is { } stored && stored.Type == q)
        {
            stream.Write(stored.RawBytes);
            return;
        }
        var row = new float[p.Cols];
        for (int r = 0; r < p.Rows; r++)
        {
            p.ReadRow(r, row);
            WriteRow(stream, row, type, name);
        }
    }

    // kv_b_proj [nh·(dn+dv), Lkv]: per head, k_b is its first dn rows transposed to [Lkv, dn]; v_b its last dv rows [dv, Lkv].
    private static void WriteKvHalf(Stream stream, ModelConfig c, Parameter kvb, bool key, GgufTensorType type, string name)
    {
        var kv = kvb.ToFloat32();
        int dn = c.QkNopeHeadDim, dv = c.VHeadDim, lkv = c.KvLoraRank, per = dn + dv;
        for (int h = 0; h < c.NumAttentionHeads; h++)
        {
            if (key)
            {
                var row = new float[dn];
                for (int l = 0; l < lkv; l++)
                {
                    for (int j = 0; j < dn; j++) row[j] = kv[((long)h * per + j) * lkv + l];
                    WriteRow(stream, row, type, name);
                }
            }
            else
                for (int j = 0; j < dv; j++)
                    WriteRow(stream, kv.AsSpan(checked((h * per + dn + j) * lkv), lkv), type, name);
        }
    }

    private static void WriteRow(Stream stream, ReadOnlySpan<float> row, GgufTensorType type, string name)
    {
        switch (type)
        {
            case GgufTensorType.F32:
                stream.Write(MemoryMarshal.AsBytes(row));
                break;
            case GgufTensorType.F16:
                var half = new ushort[row.Length];
                Tensors.Kernels.HalfConversion.FromSingle(ElementType.F16, row, half);
                stream.Write(MemoryMarshal.AsBytes(half.AsSpan()));
                break;
            default:
                try { stream.Write(QuantizedMatrix.Quantize(type.ToQuantType()!.Value, row, 1, row.Length).RawBytes); }
                catch (ArgumentException e) { throw new CheckpointException($"cannot quantise '{name}' to {type}: {e.Message}", e); }
                break;
        }
    }
}
