using System.CommandLine;

namespace SeekSharp.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the CLI with the given streams (stdin for chat); tests call this directly.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        var root = new RootCommand("SeekSharp: DeepSeek-V3 (MLA, DeepSeekMoE, MTP) in C#: inspect, score, train and chat.");
        foreach (var command in CommandCatalog.All(stdout, stderr, stdin ?? Console.In))
            root.Subcommands.Add(command);
        // Ctrl+C is handled by the commands themselves (CliCommon.CtrlC; chat stops the reply, not the program).
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return root.Parse(args).Invoke(config);
    }
}
