using BenchmarkDotNet.Running;

namespace SeekSharp.Bench;

/// <summary>BenchmarkDotNet suites: each fast kernel against its plain reference.</summary>
internal static class KernelSuites
{
    public static int Run(string[] args)
    {
        BenchmarkSwitcher.FromAssembly(typeof(KernelSuites).Assembly).Run(args);
        return 0;
    }
}
