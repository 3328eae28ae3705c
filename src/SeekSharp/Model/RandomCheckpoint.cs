using SeekSharp.Formats;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Model;

/// <summary>
/// Writes a randomly initialised checkpoint (the distribution of <see cref="ModelInitializer"/>: matrices N(0, σ²),
/// norms 1, expert biases 0) straight to disk, tensor by tensor, without building the model in memory: a
/// DeepSeek-V2-Lite-sized model (15.7B parameters) is written in Q4_0 with a few MiB of working memory.
/// </summary>
/// <remarks>
/// F32 and BF16 tensors draw from one stream per tensor, exactly as <see cref="ModelInitializer"/> does, so the file
/// equals an initialised model saved with <see cref="ModelSaver"/>. Q8_0 and Q4_0 tensors draw one stream per row
/// (keyed by tensor name and row), so that bands of rows are generated and quantised in parallel; the router and
/// kv_b_proj, which <see cref="ModelQuantizer"/> leaves unquantised, are stored as BF16 then. Rows take both normals of
/// each Box–Muller draw, and Q4_0 uses llama.cpp's fixed scale rule (<see cref="Q4_0Block.TryQuantizeWithMaxScale"/>):
/// 15.7B random weights are written in minutes, not hours.
/// </remarks>
public static class RandomCheckpoint
{
    /// <summary>
    /// Writes config.json and model.safetensors into <paramref name="directory"/> (each to a temporary name, then
    /// renamed), with the weights in <paramref name="format"/>: F32, BF16, Q8_0 or Q4_0.
    /// </summary>
    public static void Write(ModelConfig config, string directory, WeightFormat format, ulong seed, float std = ModelInitializer.DefaultStd,
        WorkerPool? pool = null, CancellationToken cancellationToken = default)
    {
        config.Validate();
        if (format is not (WeightFormat.F32 or WeightFormat.BF16 or WeightFormat.Q8_0 or WeightFormat.Q4_0))
            throw new InvalidInputException($"A random checkpoint is written as F32, BF16, Q8_0 or Q4_0, not {format.Name()}.");
        if (!(std > 0) || !float.IsFinite(std)) throw new InvalidInputException($"The standard deviation must be positive, got {std}.");
        pool ??= WorkerPool.Shared;
        var quant = format.QuantType();
        var dense = format == WeightFormat.F32 ? TensorDType.F32 : TensorDType.BF16;
        var tensors = CheckpointLayout.All(config).Select(spec =>
        {
            // An MTP module's copy of the embedding or head is written with the main tensor's values (the loader shares them).
            string stream = DeepSeekModel.IsMtpCopy(config, spec.Name, out var main) ? main : spec.Name;
            return spec.Role switch
            {
                ParameterRole.Norm => Constant(spec, 1f),
                ParameterRole.ExpertBias => Constant(spec, 0f),
                _ when quant is { } q && ModelQuantizer.IsQuantizable(spec) => Quantized(spec, stream, q, seed, std, pool),
                _ => Gaussian(spec, stream, dense, seed, std),
            };
        }).ToList();
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, SafetensorsWriter.SingleFileName), tensors,
            new Dictionary<string, string> { ["format"] = "pt" }, cancellationToken);
        string torchDtype = dense == TensorDType.BF16 ? "bfloat16" : "float32";
        (config with { TorchDtype = torchDtype, QuantizationConfig = quant is { } t ? ModelQuantizer.ConfigFor(t) : null }).Save(directory);
    }

    /// <summary>Bytes of tensor data that <see cref="Write"/> writes for <paramref name="config"/> in <paramref name="format"/>.</summary>
    public static long DataBytes(ModelConfig config, WeightFormat format)
    {
        var quant = format.QuantType();
        long dense = format == WeightFormat.F32 ? 4 : 2, total = 0;
        foreach (var spec in CheckpointLayout.All(config))
        {
            long elements = spec.Shape.Aggregate(1L, (a, b) => a * b);
            total += spec.Role is ParameterRole.Norm or ParameterRole.ExpertBias ? elements * 4
                : quant is { } q && ModelQuantizer.IsQuantizable(spec) ? QuantizedMatrix.ByteSizeOf(q, (int)spec.Shape[0], (int)spec.Shape[1])
                : elements * dense;
        }
        return total;
    }

    private static TensorToWrite Constant(ParameterSpec spec, float value) =>
        TensorToWrite.FromFloat32(spec.Name, TensorDType.F32, spec.Shape, (_, chunk) => chunk.Fill(value));

    // One stream per tensor, consumed in order, as ModelInitializer does.
    private static TensorToWrite Gaussian(ParameterSpec spec, string stream, TensorDType dtype, ulong seed, float std)
    {
        var rng = Rng.ForStream(seed, stream);
        long next = 0;
        return TensorToWrite.FromFloat32(spec.Name, dtype, spec.Shape, (first, chunk) =>
        {
            if (first != next) throw new InvalidOperationException($"{spec.Name}: values are drawn in order; asked for {first}, next is {next}.");
            for (int i = 0; i < chunk.Length; i++) chunk[i] = (float)(rng.NextGaussian() * std);
            next += chunk.Length;
        });
    }

    private static TensorToWrite Quantized(ParameterSpec spec, string stream, QuantType type, ulong seed, float std, WorkerPool pool)
    {
        int rows = (int)spec.Shape[0], cols = (int)spec.Shape[1];
        int rowBytes = QuantFormat.BlocksPerRow(cols) * type.BlockBytes();
        var band = new RowBand(stream, type, rows, cols, rowBytes, seed, std);
        return TensorToWrite.FromBytes(spec.Name, TensorDType.U8, [rows, rowBytes], (first, chunk) => band.Fill(pool, first, chunk));
    }

    // Generates and quantises a band of rows at a time in parallel (each row its own stream), then hands out its bytes.
    private sealed class RowBand(string stream, QuantType type, int rows, int cols, int rowBytes, ulong seed, float std)
    {
        private const int BandBytes = 4 << 20;
        private readonly int _bandRows = Math.Max(1, BandBytes / rowBytes);
        private byte[]? _bytes;      // [bandRows, rowBytes], allocated on first use and dropped after the last row
        private int _bandStart = -1;
        [ThreadStatic] private static float[]? t_values;

        public void Fill(WorkerPool pool, long firstByte, Span<byte> chunk)
        {
            for (int i = 0; i < chunk.Length;)
            {
                long position = firstByte + i;
                int row = (int)(position / rowBytes);
                if (_bandStart < 0 || row < _bandStart || row >= _bandStart + _bandRows)
                {
                    _bytes ??= new byte[(long)_bandRows * rowBytes];
                    _bandStart = row;
                    pool.For(Math.Min(_bandRows, rows - row), new GenerateRow(this));
                }
                long offset = position - (long)_bandStart * rowBytes;
                int count = (int)Math.Min(chunk.Length - i, (long)Math.Min(_bandRows, rows - _bandStart) * rowBytes - offset);
                _bytes.AsSpan((int)offset, count).CopyTo(chunk.Slice(i, count));
                i += count;
            }
            if (firstByte + chunk.Length == (long)rows * rowBytes) { _bytes = null; _bandStart = -1; }
        }

        private readonly struct GenerateRow(RowBand band) : IParallelJob
        {
            public void Execute(int index) => band.Generate(index);
        }

        private void Generate(int index)
        {
            int row = _bandStart + index;
            var rng = Rng.ForStream(seed, $"{stream}#row{row}");
            if (t_values is null || t_values.Length < cols) t_values = new float[cols];
            var values = t_values.AsSpan(0, cols);
            for (int c = 0; c < cols; c += 2)
            {
                var (a, b) = rng.NextGaussianPair();
                values[c] = (float)(a * std);
                if (c + 1 < cols) values[c + 1] = (float)(b * std);
            }
            var destination = _bytes.AsSpan(index * rowBytes, rowBytes);
            int blockBytes = type.BlockBytes();
            for (int b = 0, c0 = 0; c0 < cols; b++, c0 += QuantFormat.BlockSize)
            {
                var block = destination.Slice(b * blockBytes, blockBytes);
                var part = values.Slice(c0, Math.Min(QuantFormat.BlockSize, cols - c0));
                bool ok = type == QuantType.Q8_0 ? Q8_0Block.TryQuantize(part, block) : Q4_0Block.TryQuantizeWithMaxScale(part, block);
                if (!ok) throw new InvalidInputException($"Row {row} of {stream} is too large for a {type} block (--std too large).");
            }
        }
    }
}
