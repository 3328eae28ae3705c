namespace SeekSharp.Distributed;

/// <summary>
/// A failure of the multi-process transport: MPI missing or not started by mpirun, an MPI call that returned an
/// error, or a peer rank that died. The message names the call and, where MPI gives one, its error string.
/// </summary>
public sealed class DistributedException : SeekSharpException
{
    public DistributedException(string message) : base(message) { }
    public DistributedException(string message, Exception? inner) : base(message, inner) { }
}
