namespace SeekSharp.Tests.Cli;

/// <summary>Runs the seeksharp CLI in-process and captures stdout, stderr and the exit code.</summary>
internal static class CliTestHost
{
    public static (int Code, string Out, string Err) Run(params string[] args) => RunWithInput("", args);

    /// <summary>Runs with <paramref name="input"/> as stdin (the chat REPL).</summary>
    public static (int Code, string Out, string Err) RunWithInput(string input, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekSharp.Cli.Program.Run(args, stdout, stderr, new StringReader(input));
        return (code, stdout.ToString(), stderr.ToString());
    }
}
