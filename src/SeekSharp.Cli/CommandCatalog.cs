using System.CommandLine;

namespace SeekSharp.Cli;

/// <summary>Every subcommand of the tool, one file each; this list is the only place they are wired.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All(TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        yield return InfoCommand.Create(stdout, stderr);
        yield return ScoreCommand.Create(stdout, stderr);
        yield return InitCommand.Create(stdout, stderr);
        yield return TrainCommand.Create(stdout, stderr);
        yield return GenerateCommand.Create(stdout, stderr);
        yield return ChatCommand.Create(stdout, stderr, stdin);
        yield return ServeCommand.Create(stdout, stderr);
        yield return EvalCommand.Create(stdout, stderr);
        yield return QuantizeCommand.Create(stdout, stderr);
        yield return ExportCommand.Create(stdout, stderr);
        yield return PerplexityCommand.Create(stdout, stderr);
        yield return TokenizeCommand.Create(stdout, stderr);
        yield return DetokenizeCommand.Create(stdout, stderr);
        yield return ChatTemplateCommand.Create(stdout, stderr);
        yield return TokenizerTrainCommand.Create(stdout, stderr);
        yield return CostCommand.Create(stdout, stderr);
        yield return PlotCommand.Create(stdout, stderr);
        yield return MpiCheckCommand.Create(stdout, stderr);
        yield return PlanCommand.Create(stdout, stderr);
    }
}
