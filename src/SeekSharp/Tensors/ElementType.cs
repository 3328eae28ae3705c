namespace SeekSharp.Tensors;

/// <summary>How the elements of a stored matrix are encoded. Compute is always float32.</summary>
public enum ElementType
{
    /// <summary>IEEE float32.</summary>
    F32,
    /// <summary>bfloat16: the top 16 bits of a float32.</summary>
    BF16,
    /// <summary>IEEE binary16.</summary>
    F16,
}

public static class ElementTypeExtensions
{
    public static int ByteSize(this ElementType type) => type == ElementType.F32 ? 4 : 2;
}
