using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace SeekSharp.Bench;

/// <summary>
/// BenchmarkDotNet suites (Kernels/): each fast kernel against its plain reference, the reference as the baseline, so
/// the Ratio column is fast time / reference time. By default a quick job, in this process, that runs every suite in
/// about a minute: 3 warm-up and 3 measured iterations of 150 ms. With --full, BenchmarkDotNet's defaults (a separate
/// process per benchmark, as many iterations as the statistics need) and its own command-line options (--job, ...).
/// </summary>
internal static class KernelSuites
{
    public static int Run(string[] args)
    {
        bool full = args.Contains("--full");
        var rest = args.Where(a => a != "--full").ToArray();
        var config = full ? DefaultConfig.Instance : Quick();
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(KernelSuites).Assembly).Run(rest, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    private static IConfig Quick() => DefaultConfig.Instance.AddJob(Job.ShortRun
        .WithToolchain(InProcessEmitToolchain.Instance)
        .WithIterationTime(TimeInterval.FromMilliseconds(150))
        .WithId("Quick"));
}
