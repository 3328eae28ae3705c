namespace SeekSharp.Formats;

/// <summary>
/// A tensor asked for by name is not in the checkpoint (or an FP8 weight lacks its <c>_scale_inv</c> companion).
/// The message names the tensor and the file or folder that was searched, so a loader can let it through unchanged.
/// </summary>
public sealed class MissingTensorException : CheckpointException
{
    /// <summary>"&lt;location&gt;: no tensor named '&lt;tensorName&gt;'".</summary>
    public MissingTensorException(string tensorName, string location)
        : this(tensorName, location, $"{location}: no tensor named '{tensorName}'")
    {
    }

    /// <summary>With a message that explains why the tensor was needed (an FP8 weight's scale, say).</summary>
    public MissingTensorException(string tensorName, string location, string message) : base(message)
    {
        TensorName = tensorName;
        Location = location;
    }

    /// <summary>The name that was not found.</summary>
    public string TensorName { get; }

    /// <summary>The file or folder that was searched.</summary>
    public string Location { get; }
}
