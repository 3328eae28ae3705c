namespace SeekSharp.Inference.Structured;

/// <summary>
/// A JSON schema that structured output cannot follow: an unsupported keyword or an inconsistent value.
/// <see cref="Path"/> says where in the schema (e.g. "properties.x"; empty at the root).
/// </summary>
public sealed class JsonSchemaException : SeekSharpException
{
    public JsonSchemaException(string path, string reason)
        : base(path.Length == 0 ? reason : $"{path}: {reason}")
    {
        Path = path;
        Reason = reason;
    }

    public string Path { get; }

    /// <summary>The message without the path.</summary>
    public string Reason { get; }
}
