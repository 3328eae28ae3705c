using System.CommandLine;
using SeekSharp.Inference;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp generate</c>: continues a prompt; the generated text alone on stdout, speed on stderr.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var flags = new GenerationFlags();
        var prompt = new Option<string>("--prompt") { Description = "The text to continue.", Required = true };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as one user message in the model's chat template." };
        var command = new Command("generate", "Generate text from a prompt.") { prompt, chat };
        foreach (var o in flags.All()) command.Options.Add(o);
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            using var ctrlC = CliCommon.CtrlC();
            var ct = ctrlC.Token;
            using var pool = CliCommon.Pool(r.GetValue(flags.Threads));
            var (generator, tokenizer, options) = flags.Open(r, pool, stderr, allowDefault: true);
            var text = r.GetValue(prompt)!;
            var ids = r.GetValue(chat)
                ? tokenizer.EncodeChat([SeekSharp.Tokenization.ChatMessage.User(text)], addGenerationPrompt: true)
                : tokenizer.Encode(text, tokenizer.AddBosToken);
            var stats = new GenerationStats();
            foreach (var piece in generator.Generate(ids, options, stats, ct))
            {
                stdout.Write(piece);
                stdout.Flush();
            }
            stdout.WriteLine();
            stderr.WriteLine(stats.ToString());
            return stats.FinishReason == FinishReason.Cancelled ? CliRunner.Cancelled : CliRunner.Ok;
        }));
        return command;
    }
}
