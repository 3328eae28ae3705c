using System.CommandLine;
using System.CommandLine.Help;

namespace SeekSharp.Cli;

public static class Program
{
    /// <summary>The command's name in help and usage text: the tool's command (PackAsTool's ToolCommandName, ./seeksharp).</summary>
    public const string Name = "seeksharp";

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the CLI with the given streams (stdin for chat); tests call this directly.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        // A plain Command named as the tool is installed, not a RootCommand: a RootCommand takes its name from the
        // executable, so help would say "SeekSharp.Cli" (run from a build) or "testhost" (in the tests).
        var root = new Command(Name, "SeekSharp: DeepSeek-V3 (MLA, DeepSeekMoE, MTP) in C#: inspect, score, train and chat.")
        {
            new HelpOption(),
            new VersionOption(),
        };
        foreach (var command in CommandCatalog.All(stdout, stderr, stdin ?? Console.In))
            root.Subcommands.Add(command);
        // Ctrl+C is handled by the commands themselves (CliCommon.CtrlC; chat stops the reply, not the program).
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return root.Parse(args).Invoke(config);
    }
}
