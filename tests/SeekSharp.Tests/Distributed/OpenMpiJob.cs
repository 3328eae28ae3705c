using System.Diagnostics;

namespace SeekSharp.Tests.Distributed;

/// <summary>
/// Runs the seeksharp CLI (this test build's SeekSharp.Cli.dll) as an mpirun job of N processes on this machine.
/// Open MPI comes from Debian: when mpirun is missing, tests/setup-openmpi.sh installs it (apt-get, as root or with sudo).
/// </summary>
internal static class OpenMpiJob
{
    private static readonly Lazy<string> Mpirun = new(FindOrInstall, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Runs <c>mpirun -np <paramref name="ranks"/> seeksharp ARGS</c> and returns its exit code and output.</summary>
    public static (int Code, string Out, string Err) Run(int ranks, params string[] args)
    {
        using var process = Start(ranks, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"mpirun -np {ranks} seeksharp {string.Join(' ', args)} did not finish in 3 minutes.\n{stderr.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts the job with its output redirected; the caller reads it and waits.</summary>
    public static Process Start(int ranks, params string[] args)
    {
        string cli = typeof(SeekSharp.Cli.Program).Assembly.Location;
        var psi = new ProcessStartInfo(Mpirun.Value) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", ranks.ToString(), "dotnet", cli }) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";   // containers often forbid the ptrace-based copy
        psi.Environment["OMPI_MCA_mpi_yield_when_idle"] = "1";   // a rank waiting in a collective yields its core instead of spinning: on a
                                                                 // loaded CI machine spinning ranks starve the one being waited for
        return Process.Start(psi)!;
    }

    /// <summary>The process ids of the job's ranks (children of mpirun running the CLI), by rank, from /proc.</summary>
    public static Dictionary<int, int> RankProcesses(string marker)
    {
        var ranks = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (!cmdline.Contains("SeekSharp.Cli.dll", StringComparison.Ordinal) || !cmdline.Contains(marker, StringComparison.Ordinal)) continue;
                foreach (var entry in File.ReadAllText(Path.Combine(dir, "environ")).Split('\0'))
                    if (entry.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal)) ranks[int.Parse(entry["OMPI_COMM_WORLD_RANK=".Length..])] = pid;
            }
            catch (IOException) { }                    // the process ended while we looked
            catch (UnauthorizedAccessException) { }
        }
        return ranks;
    }

    private static string FindOrInstall()
    {
        if (TestUtil.FindOnPath("mpirun") is { } found) return found;
        string script = Path.Combine(TestUtil.RepositoryRoot, "tests", "setup-openmpi.sh");
        string log = TestUtil.RunSetupScript(script);
        return TestUtil.FindOnPath("mpirun")
            ?? throw new Xunit.Sdk.XunitException($"The multi-process tests need Open MPI and {script} could not install it (apt-get, root or sudo):\n{log}");
    }
}
