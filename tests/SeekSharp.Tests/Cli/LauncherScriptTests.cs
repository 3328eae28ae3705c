using System.Diagnostics;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary>
/// The ./seeksharp launcher at the repository root, run by bash in a copy of a checkout's layout with a fake
/// <c>dotnet</c> on the PATH that logs its calls and, like MSBuild, rewrites json files under obj/ and bin/ on every
/// build but leaves an up-to-date dll alone.
/// </summary>
public class LauncherScriptTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("seeksharp-launcher-").FullName;
    private string BuildLog => Path.Combine(_root, "builds.log");
    private string Source => Path.Combine(_root, "src", "SeekSharp.Cli", "Program.cs");
    private string Stamp => Path.Combine(_root, "src", "SeekSharp.Cli", "bin", "Release", "net10.0", ".seeksharp-build-stamp");

    public LauncherScriptTests()
    {
        File.Copy(Path.Combine(RepoRoot(), "seeksharp"), Path.Combine(_root, "seeksharp"));
        Directory.CreateDirectory(Path.GetDirectoryName(Source)!);
        File.WriteAllText(Source, "class Program {}");
        File.WriteAllText(Path.Combine(_root, "src", "SeekSharp.Cli", "SeekSharp.Cli.csproj"), "<Project />");
        File.WriteAllText(Path.Combine(_root, "Directory.Build.props"), "<Project />");
        Directory.CreateDirectory(Path.Combine(_root, "fake-bin"));
        File.WriteAllText(Path.Combine(_root, "fake-bin", "dotnet"), """
            #!/usr/bin/env bash
            if [ "$1" = build ]; then
              echo "$*" >> "$FAKE_BUILD_LOG"
              echo "Build succeeded."
              if [ -n "${FAKE_BUILD_FAILS:-}" ]; then echo "Program.cs(1,1): error CS1002: ; expected"; exit 3; fi
              out="$2/bin/Release/net10.0"
              mkdir -p "$out" "$2/obj"
              [ -f "$out/SeekSharp.Cli.dll" ] || touch "$out/SeekSharp.Cli.dll"
              touch "$2/obj/project.assets.json" "$out/SeekSharp.Cli.deps.json" "$out/SeekSharp.Cli.runtimeconfig.json"
              exit 0
            fi
            echo "cli $(basename "$1") ${*:2}"
            """.Replace("\r\n", "\n"));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Path.Combine(_root, "fake-bin", "dotnet"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void BuildsOnceAndQuietlyThenOnlyWhenASourceChanges()
    {
        if (OperatingSystem.IsWindows()) return;   // a bash script
        var first = Launch("--help");
        Assert.True(first.Code == 0, first.Err);
        Assert.Equal("cli SeekSharp.Cli.dll --help\n", first.Out);   // no MSBuild chatter on stdout
        Assert.Equal("", first.Err);
        Assert.Equal(1, Builds());

        var second = Launch("info");
        Assert.Equal("cli SeekSharp.Cli.dll info\n", second.Out);
        Assert.Equal(1, Builds());   // the json files the build rewrote are no reason to build again

        Age(Stamp);
        File.AppendAllText(Source, "\n");
        Launch("--help");
        Assert.Equal(2, Builds());
        Launch("--help");
        Assert.Equal(2, Builds());

        Age(Stamp);
        File.AppendAllText(Path.Combine(_root, "Directory.Build.props"), "\n");
        Launch("--help");
        Assert.Equal(3, Builds());
    }

    [Fact]
    public void AFailedBuildShowsItsErrorsOnStderrAndExitsWithItsCode()
    {
        if (OperatingSystem.IsWindows()) return;
        var failed = Launch(["--help"], fail: true);
        Assert.Equal(3, failed.Code);
        Assert.Equal("", failed.Out);   // the CLI did not run
        Assert.Contains("error CS1002", failed.Err);
        Assert.False(File.Exists(Stamp));
        var next = Launch("--help");   // nothing was stamped, so the next call builds again
        Assert.Equal(0, next.Code);
        Assert.Equal(2, Builds());
    }

    private int Builds() => File.Exists(BuildLog) ? File.ReadAllLines(BuildLog).Length : 0;

    private static void Age(string path) => File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(-5));

    private (int Code, string Out, string Err) Launch(params string[] args) => Launch(args, fail: false);

    private (int Code, string Out, string Err) Launch(string[] args, bool fail)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(_root, "seeksharp"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["PATH"] = Path.Combine(_root, "fake-bin") + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment["FAKE_BUILD_LOG"] = BuildLog;
        if (fail) start.Environment["FAKE_BUILD_FAILS"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SeekSharp.sln"))) return d.FullName;
        throw new InvalidOperationException("the repository root (SeekSharp.sln) is not above the test binaries");
    }
}
