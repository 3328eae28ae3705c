using System.Runtime.InteropServices;
using SeekSharp.Training;

namespace SeekSharp.Cli;

/// <summary>
/// One line of its own from every rank of a data-parallel job that mpirun ends (docs/distributed.md): when a rank dies
/// or aborts, mpirun sends SIGTERM to the others (SIGKILL one second later), which would otherwise vanish without a word
/// while they wait in a collective. On SIGTERM or SIGHUP this prints which rank stops, why, and the command's resume
/// point (the newest checkpoint on disk), then lets the signal end the process.
/// </summary>
internal sealed class RankStopNotice : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;
    private int _said;

    public RankStopNotice(int rank, int ranks, string runDirectory, TextWriter stderr)
    {
        void Handler(PosixSignalContext context)
        {
            if (Interlocked.Exchange(ref _said, 1) != 0) return;
            stderr.WriteLine(Message(rank, ranks, runDirectory, context.Signal));
            stderr.Flush();
        }
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handler), PosixSignalRegistration.Create(PosixSignal.SIGHUP, Handler)];
    }

    /// <summary>The line a stopped rank prints, with the newest checkpoint of <paramref name="runDirectory"/>.</summary>
    public static string Message(int rank, int ranks, string runDirectory, PosixSignal signal)
    {
        string newest;
        try
        {
            newest = TrainingRun.LatestCheckpoint(runDirectory) is { } dir && Path.GetFileName(dir) is { } name
                && name.StartsWith("step-", StringComparison.Ordinal) && long.TryParse(name["step-".Length..], out long step)
                ? $"newest checkpoint: step {step}" : "no checkpoint yet";
        }
        catch (IOException) { newest = "its checkpoints could not be read"; }
        catch (UnauthorizedAccessException) { newest = "its checkpoints could not be read"; }
        return $"rank {rank} of {ranks}: stopping: mpirun is ending the job ({signal}: another rank failed, or the job was stopped); "
            + $"resume with --resume --out {runDirectory} ({newest})";
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
