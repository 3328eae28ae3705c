namespace SeekSharp.Inference.Structured;

/// <summary>
/// One open value on the grammar's stack (an object, array, string, number or literal being written), immutable: feeding
/// a byte gives the frame after it, and perhaps a child value started by that byte (pushed above it), or a rejection.
/// </summary>
internal abstract class JsonFrame
{
    protected JsonFrame(JsonLimits limits) => Limits = limits;

    protected JsonLimits Limits { get; }

    /// <summary>The value is complete; nothing more can follow inside it (it is popped at once).</summary>
    public abstract bool Done { get; }

    /// <summary>The value is complete if the next byte belongs to its parent (a number, an enum constant that may go on).</summary>
    public virtual bool CanEnd => Done;

    /// <summary>The fewest bytes that finish this value from here (a container's pending children not counted).</summary>
    public abstract int MinBytesToFinish { get; }

    /// <summary>The frame after <paramref name="b"/> and a child value it starts, or null (Next) if the byte is not allowed here.</summary>
    public abstract (JsonFrame? Next, JsonFrame? Child) Feed(byte b);

    protected T Copy<T>() where T : JsonFrame => (T)MemberwiseClone();

    protected static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\n';

    /// <summary>The frame of a value of <paramref name="schema"/> whose first byte is <paramref name="b"/>, or null if no such value starts with it.</summary>
    public static JsonFrame? Start(JsonSchemaNode schema, byte b, JsonLimits limits)
    {
        switch (schema.Kind)
        {
            case JsonKind.Object:
                return b == '{' ? new ObjectFrame(schema, limits) : null;
            case JsonKind.Array:
                return b == '[' ? new ArrayFrame(schema, limits) : null;
            case JsonKind.String:
                return b == '"' ? new StringFrame(schema.MinLength, Math.Min(schema.MaxLength, limits.MaxStringLength), limits) : null;
            case JsonKind.Number or JsonKind.Integer:
                return NumberFrame.Start(schema.Kind == JsonKind.Integer, b, limits);
            case JsonKind.Boolean:
                return LiteralFrame.Start(s_booleans, b, limits);
            case JsonKind.Null:
                return LiteralFrame.Start(s_null, b, limits);
            case JsonKind.Constants:
                return LiteralFrame.Start(schema.Constants, b, limits);
            case JsonKind.Union:
                foreach (var alternative in schema.Alternatives)
                    if (Start(alternative, b, limits) is { } frame) return frame;
                return null;
            case JsonKind.Any:
                bool nest = schema.Depth < limits.MaxFreeDepth;
                var inner = new JsonSchemaNode { Kind = JsonKind.Any, Depth = schema.Depth + 1 };
                return b switch
                {
                    (byte)'{' when nest => new ObjectFrame(new JsonSchemaNode { Kind = JsonKind.Object, FreeForm = true, Items = inner, MaxItems = limits.MaxItems }, limits),
                    (byte)'[' when nest => new ArrayFrame(new JsonSchemaNode { Kind = JsonKind.Array, Items = inner, MaxItems = limits.MaxItems }, limits),
                    (byte)'"' => new StringFrame(0, limits.MaxStringLength, limits),
                    (byte)'t' or (byte)'f' or (byte)'n' => LiteralFrame.Start(s_anyLiterals, b, limits),
                    _ => NumberFrame.Start(false, b, limits),
                };
            default:
                return null;
        }
    }

    private static readonly byte[][] s_booleans = ["true"u8.ToArray(), "false"u8.ToArray()];
    private static readonly byte[][] s_null = ["null"u8.ToArray()];
    private static readonly byte[][] s_anyLiterals = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];
}
