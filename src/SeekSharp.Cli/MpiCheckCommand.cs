using System.CommandLine;
using SeekSharp.Distributed;

namespace SeekSharp.Cli;

/// <summary>
/// <c>mpirun -np N seeksharp mpi-check [--megabytes 16]</c>: checks that the processes of an MPI job can run every
/// collective that multi-process training uses, with correct results, and prints the all-reduce bandwidth (rank 0).
/// </summary>
internal static class MpiCheckCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var megabytes = new Option<int>("--megabytes") { Description = "Size of the timed all-reduce, in MiB.", DefaultValueFactory = _ => 16 };
        var command = new Command("mpi-check", "Check the MPI transport between the processes of an mpirun job (docs/distributed.md).") { megabytes };
        command.SetAction(parse => CliRunner.Guard(stderr, () =>
        {
            int mb = parse.GetValue(megabytes);
            if (mb < 1 || mb > 4096) throw new UsageException($"--megabytes must be between 1 and 4096, got {mb}.");
            if (!Communicator.LaunchedByMpirun)
                stderr.WriteLine("mpi-check: not started by mpirun; checking a job of one process (run: mpirun -np 2 seeksharp mpi-check).");
            using var comm = Communicator.Open();
            var report = TransportCheck.Run(comm, mb);
            if (comm.IsRoot)
            {
                stdout.WriteLine($"MPI transport OK on {report.Ranks} ranks: {string.Join("; ", report.Verified)}");
                if (report.Ranks > 1)
                    stdout.WriteLine($"all-reduce of {report.AllReduceBytes / (1 << 20)} MiB: {report.AllReduceSeconds * 1e3:F1} ms, bus bandwidth {report.AllReduceBusGBps:F2} GB/s");
            }
            return CliRunner.Ok;
        }));
        return command;
    }
}
