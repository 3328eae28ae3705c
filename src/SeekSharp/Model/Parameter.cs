using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;
using SeekSharp.Tensors.Quantization;

namespace SeekSharp.Model;

/// <summary>
/// One named tensor of the model: its values (float32, or BF16/F16 for matrices loaded for inference) and, when
/// training, its gradient. Norms and the expert bias are always float32.
/// </summary>
public sealed class Parameter
{
    public ParameterSpec Spec { get; }
    public string Name => Spec.Name;
    public ParameterRole Role => Spec.Role;
    public TensorShape Shape { get; }

    /// <summary>How the values are held.</summary>
    public ElementType StorageType { get; private set; }

    /// <summary>Float32 values (when <see cref="StorageType"/> is F32).</summary>
    public float[]? Data { get; private set; }

    /// <summary>16-bit values (when <see cref="StorageType"/> is BF16 or F16).</summary>
    public ushort[]? HalfData { get; private set; }

    /// <summary>Block-quantised values (inference only), when <see cref="Quantize"/> was called.</summary>
    public QuantizedMatrix? Quantized { get; private set; }

    /// <summary>Gradient accumulator, allocated by <see cref="EnsureGrad"/>.</summary>
    public float[]? Grad { get; private set; }

    public Parameter(ParameterSpec spec, ElementType storage = ElementType.F32)
    {
        Spec = spec;
        var dims = spec.Shape.Select(d => checked((int)d)).ToArray();
        Shape = TensorShape.FromDims(dims);
        if (storage != ElementType.F32 && spec.Role is ParameterRole.Norm or ParameterRole.ExpertBias)
            storage = ElementType.F32;
        StorageType = storage;
        if (storage == ElementType.F32) Data = new float[Shape.Size];
        else HalfData = new ushort[Shape.Size];
    }

    public int Rows => Shape.Rank == 1 ? 1 : Shape[0];
    public int Cols => Shape.Cols;
    public int Size => Shape.Size;

    /// <summary>The float32 values as a tensor view; throws for 16-bit storage.</summary>
    public Tensor Tensor => Data is { } d
        ? new Tensor(d, Shape)
        : throw new InvalidOperationException($"{Name} is stored as {Storage}; convert it to F32 to use it as a float tensor.");

    /// <summary>How the values are held, for messages: F32, BF16, F16, Q8_0, Q4_0.</summary>
    public string Storage => Quantized is { } q ? q.Type.ToString() : StorageType.ToString();

    public Span<float> Span => Tensor.Span;

    public Tensor GradTensor => Grad is { } g ? new Tensor(g, Shape) : throw new InvalidOperationException($"{Name} has no gradient buffer.");

    public void EnsureGrad()
    {
        if (StorageType != ElementType.F32) ConvertTo(ElementType.F32);
        Grad ??= new float[Shape.Size];
    }

    public void ReleaseGrad() => Grad = null;

    /// <summary>Reads row <paramref name="row"/> as float32 into <paramref name="destination"/> (embedding lookups).</summary>
    public void ReadRow(int row, Span<float> destination)
    {
        int cols = Cols;
        if (Quantized is { } q) q.DequantizeRow(row, destination[..cols]);
        else if (Data is { } d) d.AsSpan(row * cols, cols).CopyTo(destination);
        else HalfConversion.ToSingle(StorageType, HalfData.AsSpan(row * cols, cols), destination);
    }

    /// <summary>All values widened to float32 (a copy for 16-bit storage, the array itself for F32).</summary>
    public float[] ToFloat32()
    {
        if (Data is { } d) return d;
        var result = new float[Size];
        if (Quantized is { } q) q.Dequantize(result);
        else HalfConversion.ToSingle(StorageType, HalfData, result);
        return result;
    }

    /// <summary>Changes the storage; matrices only (norms and biases stay float32).</summary>
    public void ConvertTo(ElementType storage)
    {
        if (storage == StorageType && Quantized is null) return;
        if (Role is ParameterRole.Norm or ParameterRole.ExpertBias) return;
        var values = ToFloat32();
        Quantized = null;
        if (storage == ElementType.F32)
        {
            Data = values;
            HalfData = null;
        }
        else
        {
            var half = new ushort[Size];
            HalfConversion.FromSingle(storage, values, half);
            HalfData = half;
            Data = null;
        }
        StorageType = storage;
    }

    /// <summary>Replaces the values by their block quantisation (matrices and embeddings; inference only).</summary>
    public void Quantize(QuantType type, WorkerPool? pool = null)
    {
        if (Role is not (ParameterRole.Matrix or ParameterRole.Embedding) || Shape.Rank != 2)
            throw new InvalidOperationException($"{Name} ({Role}) cannot be quantised.");
        if (Quantized?.Type == type) return;
        SetQuantized(QuantizedMatrix.Quantize(type, ToFloat32(), Rows, Cols, pool));
    }

    /// <summary>Holds an already quantised matrix (a quantised checkpoint).</summary>
    public void SetQuantized(QuantizedMatrix q)
    {
        if (q.Rows != Rows || q.Cols != Cols) throw new ArgumentException($"{Name} {Shape} cannot hold a [{q.Rows}, {q.Cols}] quantised matrix.");
        Quantized = q;
        Data = null;
        HalfData = null;
        Grad = null;
    }

    /// <summary>Makes this parameter hold exactly the given float32 values.</summary>
    public void SetValues(ReadOnlySpan<float> values)
    {
        if (values.Length != Size) throw new ArgumentException($"{Name}: {values.Length} values for a tensor of {Size}.");
        if (Quantized is not null) throw new InvalidOperationException($"{Name} is quantised; convert it back to F32 first.");
        if (Data is { } d) values.CopyTo(d);
        else HalfConversion.FromSingle(StorageType, values, HalfData);
    }

    /// <summary>Shares another parameter's storage (the MTP module's copies of the embedding and head).</summary>
    internal void ShareStorageWith(Parameter other)
    {
        if (other.Shape != Shape) throw new ArgumentException($"{Name} {Shape} cannot share {other.Name} {other.Shape}.");
        Data = other.Data;
        HalfData = other.HalfData;
        Quantized = other.Quantized;
        StorageType = other.StorageType;
    }

    public override string ToString() => $"{Name} {Shape} {Storage}";
}
