using System.Diagnostics;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>
/// The default model's data recipe (data/DataBuilder.cs, a .NET file-based program run by data/build-*.sh) builds under
/// the repository's code-style rules and answers bad arguments with its usage line and exit code 2. It once stopped
/// compiling when the analyzers became errors, and nothing noticed, since only the recipe runs it.
/// </summary>
public class DataRecipeTests
{
    [Fact]
    public async Task DataBuilderBuildsAndPrintsUsageOnBadArguments()
    {
        string script = Path.Combine(TestUtil.RepositoryRoot, "data", "DataBuilder.cs");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        foreach (var a in new[] { "run", script, "--", "nonsense" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderrTask = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        string stderr = await stderrTask, output = await stdout + stderr;
        Assert.True(process.ExitCode == 2, $"exit code {process.ExitCode}, expected 2 (usage):\n{output}");
        Assert.Contains("usage: DataBuilder.cs (corpus|chat) OUT_DIR", stderr);
    }
}
