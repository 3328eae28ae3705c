using Xunit;

namespace SeekSharp.Tests.Distributed;

/// <summary><c>mpirun -np 2 seeksharp mpi-check</c>: every collective training uses gives the values each rank predicts.</summary>
public sealed class TransportCheckTests
{
    [Fact]
    public void EveryCollectiveChecksOutOnTwoRanks()
    {
        var job = OpenMpiJob.Run(2, "mpi-check", "--megabytes", "1");
        Assert.True(job.Code == 0, $"mpirun exit {job.Code}\n{job.Out}\n{job.Err}");
        string said = job.Out + job.Err;
        Assert.Contains("MPI transport OK on 2 ranks", said);
        Assert.Contains("reduce-scatter, all-gather in place, gather", said);
        Assert.Contains("all-to-all, all-to-allv", said);
    }
}
