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
        string script = System.IO.Path.Combine(TestUtil.RepositoryRoot, "tests", "setup-chromium.sh");
        string log = TestUtil.RunSetupScript(script);
        return Find() ?? throw new Xunit.Sdk.XunitException(
            $"The browser tests need Debian's chromium and {script} could not install it (it needs apt-get and root or sudo; " +
            $"or set SEEKSHARP_CHROMIUM to a chromium executable). Its output:\n{log}");
    }

    private static string? Find()
    {
        if (Environment.GetEnvironmentVariable("SEEKSHARP_CHROMIUM") is { Length: > 0 } set)
            return File.Exists(set) ? set : throw new Xunit.Sdk.XunitException($"SEEKSHARP_CHROMIUM is {set}, which does not exist.");
        return TestUtil.FindOnPath("chromium") ?? TestUtil.FindOnPath("chromium-browser");
    }
}
