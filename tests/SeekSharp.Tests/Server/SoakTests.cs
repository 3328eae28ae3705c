using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Server;

/// <summary>
/// The server soak (issue 13 point 3, docs/reliability.md): a real server on loopback with an API key, driven by
/// <see cref="SoakDriver"/>'s mix of clients for a fixed time. Every request must end as its kind must (no 500, no
/// lost, cut or corrupted reply, every error in OpenAI's shape), the server must end with nothing in flight, memory must
/// stay flat (managed heap and resident set after a full GC, before and after, within <see cref="ManagedBound"/> and
/// <see cref="ResidentBound"/>), and the server's log must never hold a key or an Authorization header. Requests by
/// kind and outcome and latency percentiles go to the test output (and to <c>SEEKSHARP_SOAK_REPORT</c>'s file).
/// </summary>
/// <remarks>
/// CI runs <see cref="CiSeconds"/> seconds; <c>SEEKSHARP_SOAK_SECONDS</c> runs longer, e.g.
/// <c>SEEKSHARP_SOAK_SECONDS=300 dotnet test tests/SeekSharp.Tests -c Release --filter "FullyQualifiedName~SoakTests"</c>.
/// The memory figures are the whole process's, so the soak runs alone, after the tests that run in parallel (<see cref="SoakCollection"/>).
/// </remarks>
[Collection(SoakCollection.Name)]
public class SoakTests(ITestOutputHelper output)
{
    private const int CiSeconds = 15;
    private const int Clients = 12;
    private const int MaxTokens = 8;

    /// <summary>Growth allowed between before and after: the soak's garbage is collected, so this is noise, not a slope.</summary>
    private const long ManagedBound = 16L << 20, ResidentBound = 96L << 20;

    private static int Seconds =>
        int.TryParse(Environment.GetEnvironmentVariable("SEEKSHARP_SOAK_SECONDS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) && s > 0 ? s : CiSeconds;

    [Fact]
    public async Task MixedClientsAbuseAndTimeoutsLoseNothingAndLeakNothing()
    {
        string key = "sk-soak-" + Guid.NewGuid().ToString("N");
        var log = new StringWriter();
        await using var server = await TestServer.StartAsync(o => o with { ApiKey = key, Parallel = 4, QueueLimit = 64, MaxRequestBytes = 64 << 10, RequestTimeout = TimeSpan.FromSeconds(30) }, log: log);
        var timeoutLog = new StringWriter();
        await using var timeoutServer = await TestServer.StartAsync(o => o with { ApiKey = key, Parallel = 1, RequestTimeout = TimeSpan.FromMilliseconds(300) }, log: timeoutLog);
        server.Authorize(key);
        timeoutServer.Authorize(key);
        timeoutServer.Server.Scheduler!.Pause();   // nothing it is sent can finish: each request meets its timeout
        var driver = new SoakDriver(server, timeoutServer, MaxTokens);
        using var anonymous = driver.Anonymous;

        await driver.ComputeReferencesAsync();
        var warmUp = new SoakTally();
        await driver.RunAsync(TimeSpan.FromSeconds(3), Clients, seed: 0, warmUp);   // pools, caches and JIT reach their size
        var tally = new SoakTally();
        var before = SoakDriver.Memory();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await driver.RunAsync(TimeSpan.FromSeconds(Seconds), Clients, seed: 1, tally, Seconds >= 120 ? TimeSpan.FromSeconds(60) : null);
        double seconds = clock.Elapsed.TotalSeconds;
        for (var wait = System.Diagnostics.Stopwatch.StartNew(); server.Server.Scheduler!.InFlight > 0 && wait.Elapsed < TimeSpan.FromSeconds(20);)
            await Task.Delay(10);   // a disconnect's slot is freed at the scheduler's next step
        var after = SoakDriver.Memory();

        var report = string.Create(CultureInfo.InvariantCulture,
            $"soak: {seconds:F1} s, {Clients} clients, {tally.Requests} requests ({tally.Requests / seconds:F1}/s) after {warmUp.Requests} in a 3 s warm-up; unexpected outcomes: {tally.Unexpected + warmUp.Unexpected}\n")
            + tally.Table() + "\n" + string.Create(CultureInfo.InvariantCulture,
            $"memory after a full GC: managed {before.Managed / 1048576.0:F1} → {after.Managed / 1048576.0:F1} MiB, resident {before.Resident / 1048576.0:F1} → {after.Resident / 1048576.0:F1} MiB");
        output.WriteLine(report);
        if (Environment.GetEnvironmentVariable("SEEKSHARP_SOAK_REPORT") is { Length: > 0 } file) File.AppendAllText(file, report + "\n");

        var problems = warmUp.Problems.Concat(tally.Problems).ToList();
        Assert.True(problems.Count == 0, $"{tally.Unexpected + warmUp.Unexpected} unexpected outcomes, the first:\n" + string.Join("\n", problems.Take(20)));
        foreach (var (kind, _) in SoakDriver.Mix) Assert.True(tally.CountOf(kind) > 0, $"no {kind} request was sent");
        Assert.Equal(0, server.Server.Scheduler!.InFlight);
        Assert.Equal(0, timeoutServer.Server.Scheduler!.InFlight);
        Assert.True(after.Managed - before.Managed < ManagedBound, $"managed heap grew {(after.Managed - before.Managed) >> 20} MiB");
        Assert.True(after.Resident - before.Resident < ResidentBound, $"resident set grew {(after.Resident - before.Resident) >> 20} MiB");
        foreach (var text in new[] { log.ToString(), timeoutLog.ToString() })
        {
            Assert.DoesNotContain(key, text, StringComparison.Ordinal);
            Assert.DoesNotContain("sk-wrong-", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Bearer", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Authorization", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("error:", text, StringComparison.Ordinal);   // the server logs every 500
        }
    }
}

/// <summary>The soak's collection: it runs on its own, after the parallel tests, so that its memory figures are its own.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class SoakCollection
{
    public const string Name = "Soak";
}
