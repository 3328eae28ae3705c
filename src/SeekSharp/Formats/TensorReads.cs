using System.Buffers;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Formats;

/// <summary>
/// The float32 reads of <see cref="ITensorSource"/>, written once over its byte access so that a single file and a
/// sharded checkpoint behave the same (an FP8 weight and its scale may even sit in different shards).
/// </summary>
internal static class TensorReads
{
    // Bytes converted per step: keeps each byte span well under 2 GiB whatever the dtype, and is large enough that
    // the per-chunk overhead vanishes against the copy.
    private const int ChunkElements = 1 << 24;

    public static void ReadFloat32(ITensorSource source, string name, Span<float> destination)
    {
        var info = source.Get(name);
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"{info.FilePath}: tensor {info} has {info.ElementCount} elements but the destination holds {destination.Length}", nameof(destination));
        ReadFloat32(source, info, 0, destination);
    }

    public static void ReadFloat32(ITensorSource source, string name, long firstElement, Span<float> destination)
    {
        var info = source.Get(name);
        long count = info.ElementCount;
        if (firstElement < 0 || firstElement > count || destination.Length > count - firstElement)
            throw new ArgumentOutOfRangeException(nameof(firstElement), $"{info.FilePath}: elements [{firstElement}, {firstElement + destination.Length}) are outside tensor {info}, which has {count}");
        ReadFloat32(source, info, firstElement, destination);
    }

    private static void ReadFloat32(ITensorSource source, TensorInfo info, long firstElement, Span<float> destination)
    {
        if (!info.DType.IsFloatingPoint())
            throw new CheckpointException($"{info.FilePath}: tensor {info} holds integers, not floats; read its raw bytes with GetBytes");
        int size = info.DType.SizeInBytes();
        for (int done = 0; done < destination.Length;)
        {
            int chunk = Math.Min(ChunkElements, destination.Length - done);
            var bytes = source.GetBytes(info.Name, (firstElement + done) * size, chunk * size);
            DTypeConversions.ToFloat32(info.DType, bytes, destination.Slice(done, chunk));
            done += chunk;
        }
    }

    public static void ReadWeightFloat32(ITensorSource source, string name, Span<float> destination, int blockRows, int blockCols)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCols, 1);
        var weight = source.Get(name);
        if (weight.DType != TensorDType.F8_E4M3)
        {
            ReadFloat32(source, name, destination);
            return;
        }
        if (destination.Length != weight.ElementCount)
            throw new ArgumentException($"{weight.FilePath}: tensor {weight} has {weight.ElementCount} elements but the destination holds {destination.Length}", nameof(destination));
        if (weight.Shape.Length != 2)
            throw new CheckpointException($"{weight.FilePath}: FP8 tensor {weight} is not 2-D, so it has no 128×128 block scales to dequantise with");
        // rows × cols fits in the destination span, so each fits in an int unless the other is 0.
        if (weight.Shape[0] > int.MaxValue || weight.Shape[1] > int.MaxValue)
            throw new CheckpointException($"{weight.FilePath}: FP8 tensor {weight} has a dimension past 2^31");
        int rows = (int)weight.Shape[0], cols = (int)weight.Shape[1];

        var scale = FindScale(source, weight, rows, cols, blockRows, blockCols);
        int scaleCount = (int)scale.ElementCount;
        var scales = ArrayPool<float>.Shared.Rent(scaleCount);
        try
        {
            ReadFloat32(source, scale.Name, scales.AsSpan(0, scaleCount));
            Fp8BlockQuantization.Dequantize(source.GetBytes(name), scales.AsSpan(0, scaleCount), rows, cols, destination, blockRows, blockCols);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scales);
        }
    }

    // DeepSeek names the scale of "X.weight" "X.weight_scale_inv" (architecture.md §13), shaped [ceil(rows/128), ceil(cols/128)].
    private static TensorInfo FindScale(ITensorSource source, TensorInfo weight, int rows, int cols, int blockRows, int blockCols)
    {
        string scaleName = weight.Name + "_scale_inv";
        if (!source.Tensors.TryGetValue(scaleName, out var scale))
            throw new MissingTensorException(scaleName, source.Location,
                $"{source.Location}: FP8 weight {weight} has no companion '{scaleName}' holding its block scales");
        long[] expected = [Fp8BlockQuantization.BlockCount(rows, blockRows), Fp8BlockQuantization.BlockCount(cols, blockCols)];
        if (scale.Shape.Length != 2 || scale.Shape[0] != expected[0] || scale.Shape[1] != expected[1])
            throw new CheckpointException($"{scale.FilePath}: scale tensor {scale} does not fit FP8 weight {weight}: {blockRows}×{blockCols} blocks need shape {ShapeMath.Format(expected)}");
        if (!scale.DType.IsFloatingPoint())
            throw new CheckpointException($"{scale.FilePath}: scale tensor {scale} of FP8 weight '{weight.Name}' holds integers, not floats");
        return scale;
    }
}
