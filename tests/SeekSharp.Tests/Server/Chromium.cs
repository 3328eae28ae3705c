using System.Diagnostics;

namespace SeekSharp.Tests.Server;

/// <summary>
/// Debian's chromium for the browser tests: $SEEKSHARP_CHROMIUM, else chromium on the PATH, else tests/setup-chromium.sh
/// installs it (apt-get, as root or with sudo). No browser is downloaded by Playwright.
/// </summary>
internal static class Chromium
{
    private static readonly Lazy<string> Executable = new(FindOrInstall, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The chromium executable; installs it on first use when missing, or fails saying how to get it.</summary>
    public static string Path => Executable.Value;

    private static string FindOrInstall()
    {
        if (Find() is { } found) return found;
        string script = System.IO.Path.Combine(RepositoryRoot(), "tests", "setup-chromium.sh");
        string log = Run("sh", script);
        return Find() ?? throw new Xunit.Sdk.XunitException(
            $"The browser tests need Debian's chromium and {script} could not install it (it needs apt-get and root or sudo; " +
            $"or set SEEKSHARP_CHROMIUM to a chromium executable). Its output:\n{log}");
    }

    private static string? Find()
    {
        if (Environment.GetEnvironmentVariable("SEEKSHARP_CHROMIUM") is { Length: > 0 } set)
            return File.Exists(set) ? set : throw new Xunit.Sdk.XunitException($"SEEKSHARP_CHROMIUM is {set}, which does not exist.");
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser" })
            {
                var candidate = System.IO.Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "SeekSharp.sln"))) return dir.FullName;
        throw new Xunit.Sdk.XunitException($"No SeekSharp.sln above {AppContext.BaseDirectory}, so tests/setup-chromium.sh cannot be found to install chromium.");
    }

    private static string Run(string file, string argument)
    {
        using var process = Process.Start(new ProcessStartInfo(file, [argument]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10))) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        return $"exit {process.ExitCode}\n{stdout.Result}{stderr.Result}";
    }
}
