namespace SeekSharp.Inference.Structured;

/// <summary>
/// One node of a supported JSON schema, in the form the grammar walks: its kind and the constraints of that kind.
/// Built by <see cref="JsonSchemaReader"/> (or <see cref="JsonGrammar.AnyObject"/>); immutable.
/// </summary>
public sealed class JsonSchemaNode
{
    private int _minBytes = -1;

    public required JsonKind Kind { get; init; }

    /// <summary>Objects: the properties in schema order, with their names JSON-encoded ("\"name\"", UTF-8).</summary>
    public IReadOnlyList<JsonProperty> Properties { get; init; } = [];

    /// <summary>Objects: free-form keys (json_object) instead of <see cref="Properties"/>; values are <see cref="Items"/>.</summary>
    public bool FreeForm { get; init; }

    /// <summary>Arrays: the item schema; free-form objects: the value schema.</summary>
    public JsonSchemaNode? Items { get; init; }

    public int MinItems { get; init; }
    public int MaxItems { get; init; } = int.MaxValue;
    public int MinLength { get; init; }
    public int MaxLength { get; init; } = int.MaxValue;

    /// <summary>Constants: each allowed value, serialized compactly (UTF-8).</summary>
    public IReadOnlyList<byte[]> Constants { get; init; } = [];

    /// <summary>Unions: the alternatives, tried in order.</summary>
    public IReadOnlyList<JsonSchemaNode> Alternatives { get; init; } = [];

    /// <summary>Any: how deep this value is (free-form objects and arrays stop at <see cref="JsonLimits.MaxFreeDepth"/>).</summary>
    public int Depth { get; init; }

    /// <summary>The fewest bytes a value of this schema can take.</summary>
    public int MinBytes => _minBytes >= 0 ? _minBytes : _minBytes = ComputeMinBytes();

    private int ComputeMinBytes() => Kind switch
    {
        JsonKind.Any or JsonKind.Number or JsonKind.Integer => 1,
        JsonKind.Boolean or JsonKind.Null => 4,
        JsonKind.String => 2 + MinLength,
        JsonKind.Constants => Constants.Min(c => c.Length),
        JsonKind.Union => Alternatives.Min(a => a.MinBytes),
        JsonKind.Array => 2 + MinItems * Items!.MinBytes + Math.Max(0, MinItems - 1),
        JsonKind.Object => 2 + Math.Max(0, Properties.Where(p => p.Required).Sum(p => 2 + p.Key.Length + p.Schema.MinBytes) - 1),
        _ => 1,
    };
}

/// <summary>A property of an object schema: its JSON-encoded name (quotes included, UTF-8), its schema, and whether it is required.</summary>
public sealed record JsonProperty(string Name, byte[] Key, JsonSchemaNode Schema, bool Required);
