namespace SeekSharp.Model;

/// <summary>One tensor of a checkpoint layout: its Hugging Face name, shape and role. Shapes are long: a 671B layout has tensors of billions of elements.</summary>
public sealed record ParameterSpec(string Name, long[] Shape, ParameterRole Role)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
