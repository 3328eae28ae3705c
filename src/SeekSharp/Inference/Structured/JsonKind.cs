namespace SeekSharp.Inference.Structured;

/// <summary>What a <see cref="JsonSchemaNode"/> allows.</summary>
public enum JsonKind
{
    /// <summary>Any JSON value (free-form objects and arrays to a bounded depth).</summary>
    Any,
    Object,
    Array,
    String,
    Number,
    Integer,
    Boolean,
    Null,
    /// <summary>One of a list of constants (enum, const).</summary>
    Constants,
    /// <summary>One of several types ("type": ["string", "null"]), told apart by their first character.</summary>
    Union,
}
