using SeekSharp.Tensors;
using SeekSharp.Tensors.Quantization;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Model;

/// <summary>
/// One named tensor of the model: its values, held as a <see cref="WeightMatrix"/> in any storage format (float32 for
/// training; BF16, F16, FP8, Q8_0 or Q4_0 for inference, owned or viewed in a mapped checkpoint), and, when training,
/// its gradient. Norms and the expert bias are always owned float32.
/// </summary>
public sealed class Parameter
{
    private WeightMatrix? _weight;

    public ParameterSpec Spec { get; }
    public string Name => Spec.Name;
    public ParameterRole Role => Spec.Role;
    public TensorShape Shape { get; }

    /// <summary>The stored values. A parameter created without values (a loader fills it) throws until it has them.</summary>
    public WeightMatrix Weight => _weight ?? throw new InvalidOperationException($"{Name} holds no values yet.");

    /// <summary>Whether values were set.</summary>
    public bool HasValues => _weight is not null;

    /// <summary>How the values are held.</summary>
    public WeightFormat Format => Weight.Format;

    /// <summary>Owned float32 values, the array training updates; null for any other storage (or a mapped view).</summary>
    public float[]? Data => (_weight as DenseWeight)?.Float32Array;

    /// <summary>The block-quantised matrix, when the storage is Q8_0 or Q4_0.</summary>
    public QuantizedMatrix? Quantized => (_weight as BlockQuantWeight)?.Matrix;

    /// <summary>Gradient accumulator, allocated by <see cref="EnsureGrad"/>.</summary>
    public float[]? Grad { get; private set; }

    /// <param name="spec">Name, role and shape.</param>
    /// <param name="storage">F32, BF16 or F16: allocate zeroed values in this format (norms and biases are always F32);
    /// null: no values until <see cref="SetWeight"/>.</param>
    public Parameter(ParameterSpec spec, ElementType? storage = ElementType.F32)
    {
        Spec = spec;
        var dims = spec.Shape.Select(d => checked((int)d)).ToArray();
        Shape = TensorShape.FromDims(dims);
        if (storage is not { } type) return;
        if (!IsMatrixLike) type = ElementType.F32;
        _weight = DenseWeight.Zeros(type, Rows, Cols);
    }

    public int Rows => Shape.Rank == 1 ? 1 : Shape[0];
    public int Cols => Shape.Cols;
    public int Size => Shape.Size;

    /// <summary>Matrices and embeddings: the tensors whose storage can be other than owned float32.</summary>
    public bool IsMatrixLike => Role is ParameterRole.Matrix or ParameterRole.Embedding;

    /// <summary>The float32 values as a tensor view; throws for any other storage.</summary>
    public Tensor Tensor => Data is { } d
        ? new Tensor(d, Shape)
        : throw new InvalidOperationException($"{Name} is stored as {Storage}; convert it to F32 to use it as a float tensor.");

    /// <summary>How the values are held, for messages: F32, BF16, F16, FP8, Q8_0, Q4_0 (and "mapped" when viewed in a file).</summary>
    public string Storage => _weight is null ? "empty" : _weight.Format.Name();

    public Span<float> Span => Tensor.Span;

    public Tensor GradTensor => Grad is { } g ? new Tensor(g, Shape) : throw new InvalidOperationException($"{Name} has no gradient buffer.");

    /// <summary>Gives the parameter a gradient buffer, first making its values owned float32 (what training updates).</summary>
    public void EnsureGrad()
    {
        if (Data is null) ConvertTo(WeightFormat.F32);
        Grad ??= new float[Shape.Size];
    }

    public void ReleaseGrad() => Grad = null;

    /// <summary>
    /// Drops the values and the gradient (an expert-parallel rank's experts that another rank owns): the parameter holds
    /// nothing until <see cref="SetValues"/> gives it values again.
    /// </summary>
    public void ReleaseValues()
    {
        _weight = null;
        Grad = null;
    }

    /// <summary>Reads row <paramref name="row"/> as float32 into <paramref name="destination"/> (embedding lookups).</summary>
    public void ReadRow(int row, Span<float> destination) => Weight.ReadRow(row, destination);

    /// <summary>All values as float32: the array itself for owned F32, otherwise a dequantised copy.</summary>
    public float[] ToFloat32()
    {
        if (Data is { } d) return d;
        var result = new float[Size];
        Weight.Dequantize(result);
        return result;
    }

    /// <summary>
    /// Changes the storage (matrices and embeddings; norms and biases stay float32). F32 gives owned values, which
    /// training can update; the block formats quantise.
    /// </summary>
    public void ConvertTo(WeightFormat format, WorkerPool? pool = null)
    {
        if (!IsMatrixLike && format != WeightFormat.F32)
            return;
        if (_weight is { } w && w.Format == format && (format != WeightFormat.F32 || Data is not null)) return;
        if (format is WeightFormat.Q8_0 or WeightFormat.Q4_0 or WeightFormat.Fp8E4M3 && Shape.Rank != 2)
            throw new InvalidOperationException($"{Name} ({Role}) cannot be quantised.");
        var values = ToFloat32();
        _weight = format == WeightFormat.F32 ? DenseWeight.Wrap(values, Rows, Cols) : WeightMatrix.FromFloat32(format, values, Rows, Cols, pool);
        if (format != WeightFormat.F32) Grad = null;
    }

    /// <summary>Replaces the values by their block quantisation (matrices and embeddings; inference only).</summary>
    public void Quantize(QuantType type, WorkerPool? pool = null)
    {
        if (!IsMatrixLike || Shape.Rank != 2)
            throw new InvalidOperationException($"{Name} ({Role}) cannot be quantised.");
        ConvertTo(type.ToWeightFormat(), pool);
    }

    /// <summary>Holds <paramref name="weight"/> (e.g. a view into a mapped checkpoint); its shape must be this parameter's.</summary>
    public void SetWeight(WeightMatrix weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rows != Rows || weight.Cols != Cols) throw new ArgumentException($"{Name} {Shape} cannot hold a [{weight.Rows}, {weight.Cols}] matrix.");
        if (!IsMatrixLike && !(weight is DenseWeight { Float32Array: not null }))
            throw new ArgumentException($"{Name} ({Role}) must hold owned float32 values, not {weight}.");
        _weight = weight;
        if (Data is null) Grad = null;
    }

    /// <summary>Holds an already quantised matrix (a quantised checkpoint).</summary>
    public void SetQuantized(QuantizedMatrix q) => SetWeight(new BlockQuantWeight(q));

    /// <summary>Makes this parameter hold exactly the given float32 values, in its current format (F32, BF16 or F16; allocated as F32 when empty).</summary>
    public void SetValues(ReadOnlySpan<float> values)
    {
        if (values.Length != Size) throw new ArgumentException($"{Name}: {values.Length} values for a tensor of {Size}.");
        if (_weight is null) { _weight = DenseWeight.FromFloat32(ElementType.F32, values, Rows, Cols); return; }
        if (Data is { } d) { values.CopyTo(d); return; }
        if (_weight is DenseWeight { IsView: false } dense)
        {
            _weight = DenseWeight.FromFloat32(dense.ElementType, values, Rows, Cols);
            return;
        }
        throw new InvalidOperationException($"{Name} is stored as {Storage}{(_weight.IsView ? " (mapped)" : "")}; convert it to F32 first.");
    }

    public override string ToString() => $"{Name} {Shape} {Storage}";
}
