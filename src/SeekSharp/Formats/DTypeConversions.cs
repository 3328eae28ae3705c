using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Formats;

/// <summary>
/// Float conversions by safetensors dtype, on raw little-endian bytes; the element formats themselves are
/// <see cref="FloatFormats"/>.
/// </summary>
public static class DTypeConversions
{
    // ---------------------------------------------------------------- by dtype, on raw little-endian bytes

    /// <summary>
    /// Converts raw tensor bytes of a float <paramref name="dtype"/> to float32 (FP8 without a scale).
    /// <paramref name="source"/> must hold exactly destination.Length elements; any byte alignment is fine.
    /// </summary>
    public static void ToFloat32(TensorDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        CheckByteLength(dtype, source.Length, destination.Length);
        switch (dtype)
        {
            case TensorDType.F32: MemoryMarshal.Cast<byte, float>(source).CopyTo(destination); break;
            case TensorDType.BF16: FloatFormats.BFloat16ToFloat32(MemoryMarshal.Cast<byte, ushort>(source), destination); break;
            case TensorDType.F16: FloatFormats.HalfToFloat32(MemoryMarshal.Cast<byte, Half>(source), destination); break;
            case TensorDType.F64: FloatFormats.Float64ToFloat32(MemoryMarshal.Cast<byte, double>(source), destination); break;
            case TensorDType.F8_E4M3: FloatFormats.E4M3ToFloat32(source, destination); break;
            default: throw NotAFloat(dtype);
        }
    }

    /// <summary>Converts float32 values to the raw little-endian bytes of a float <paramref name="dtype"/>.</summary>
    public static void FromFloat32(TensorDType dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckByteLength(dtype, destination.Length, source.Length);
        switch (dtype)
        {
            case TensorDType.F32: source.CopyTo(MemoryMarshal.Cast<byte, float>(destination)); break;
            case TensorDType.BF16: FloatFormats.Float32ToBFloat16(source, MemoryMarshal.Cast<byte, ushort>(destination)); break;
            case TensorDType.F16: FloatFormats.Float32ToHalf(source, MemoryMarshal.Cast<byte, Half>(destination)); break;
            case TensorDType.F64: FloatFormats.Float32ToFloat64(source, MemoryMarshal.Cast<byte, double>(destination)); break;
            case TensorDType.F8_E4M3: FloatFormats.Float32ToE4M3(source, destination); break;
            default: throw NotAFloat(dtype);
        }
    }

    private static void CheckByteLength(TensorDType dtype, int byteLength, int elementCount)
    {
        if (!dtype.IsFloatingPoint()) throw NotAFloat(dtype);
        if ((long)elementCount * dtype.SizeInBytes() != byteLength)
            throw new ArgumentException($"{byteLength} bytes of {dtype.ToHeaderString()} are not {elementCount} elements");
    }

    private static ArgumentException NotAFloat(TensorDType dtype) =>
        new($"{dtype.ToHeaderString()} is not a float type; only F64, F32, F16, BF16 and F8_E4M3 convert to and from float32");
}
