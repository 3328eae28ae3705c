namespace SeekSharp.Inference.Structured;

/// <summary>
/// Bounds on what constrained JSON may contain, so that even a random model finishes: whitespace between tokens,
/// string lengths, digits, and the size and depth of free-form (json_object) values. A schema's own maxLength and
/// maxItems tighten them.
/// </summary>
public sealed record JsonLimits
{
    /// <summary>Whitespace bytes (space or newline) allowed in a row between structural characters.</summary>
    public int MaxWhitespace { get; init; } = 1;

    /// <summary>Characters (UTF-16 units) in a string with no maxLength.</summary>
    public int MaxStringLength { get; init; } = 256;

    /// <summary>Characters in a free-form object's key.</summary>
    public int MaxKeyLength { get; init; } = 32;

    /// <summary>Digits before the decimal point (15 keeps every integer exact in a double).</summary>
    public int MaxIntegerDigits { get; init; } = 15;

    public int MaxFractionDigits { get; init; } = 8;

    /// <summary>Items of an array with no maxItems, and members of a free-form object.</summary>
    public int MaxItems { get; init; } = 64;

    /// <summary>Nesting of free-form objects and arrays (json_object).</summary>
    public int MaxFreeDepth { get; init; } = 4;

    public static JsonLimits Default { get; } = new();
}
