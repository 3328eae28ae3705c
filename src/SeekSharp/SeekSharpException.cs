namespace SeekSharp;

/// <summary>
/// Base of every error the library raises on purpose: bad input (a file, a config, a request),
/// an unsupported feature, or a state the caller can fix. The CLI turns these into one-line
/// messages and a non-zero exit code; anything else is a bug.
/// </summary>
public abstract class SeekSharpException : Exception
{
    protected SeekSharpException(string message) : base(message) { }
    protected SeekSharpException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>A config.json (or preset) with a missing, inconsistent or unsupported value.</summary>
public sealed class ConfigException : SeekSharpException
{
    public ConfigException(string message) : base(message) { }
    public ConfigException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>A checkpoint file or folder that cannot be read as what it claims to be.</summary>
public class CheckpointException : SeekSharpException
{
    public CheckpointException(string message) : base(message) { }
    public CheckpointException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>An argument that is out of range or inconsistent with the model (a token id past the vocabulary, say).</summary>
public sealed class InvalidInputException : SeekSharpException
{
    public InvalidInputException(string message) : base(message) { }
    public InvalidInputException(string message, Exception? inner) : base(message, inner) { }
}
