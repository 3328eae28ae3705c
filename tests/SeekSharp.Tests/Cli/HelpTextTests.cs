using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary>The program name in help and usage text is the tool's command, whatever executable hosts the CLI.</summary>
public class HelpTextTests
{
    [Fact]
    public void HelpNamesTheToolSeeksharp()
    {
        var (code, stdout, _) = CliTestHost.Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage:", stdout);
        Assert.Contains("  seeksharp [command] [options]", stdout);
        Assert.DoesNotContain("SeekSharp.Cli", stdout);
        Assert.DoesNotContain("testhost", stdout);
        Assert.Contains("generate", stdout);   // the subcommands are listed
    }

    [Fact]
    public void SubcommandHelpAndUsageErrorsNameTheToolSeeksharp()
    {
        var help = CliTestHost.Run("generate", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("  seeksharp generate [options]", help.Out);
        var missing = CliTestHost.Run("quantize");   // required options missing: the error shows the usage too
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("seeksharp quantize [options]", missing.Out + missing.Err);
    }

    [Fact]
    public void VersionStillWorks()
    {
        var (code, stdout, _) = CliTestHost.Run("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout);
    }
}
