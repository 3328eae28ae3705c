using System.CommandLine;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp tokenize --tokenizer PATH (--text T | --file F) [--add-bos] [--count]</c>: prints the ids as a JSON array.</summary>
internal static class TokenizeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var tokenizer = TokenizerOption.Create();
        var text = new Option<string>("--text") { Description = "Text to encode (special tokens in it are recognised)." };
        var file = new Option<FileInfo>("--file") { Description = "UTF-8 file to encode instead of --text." };
        var addBos = new Option<bool>("--add-bos") { Description = "Put BOS first (as tokenizer_config.json's add_bos_token asks for plain text)." };
        var count = new Option<bool>("--count") { Description = "Print only the number of tokens." };
        var command = new Command("tokenize", "Encode text with a Hugging Face tokenizer and print the ids as JSON.") { tokenizer, text, file, addBos, count };
        command.SetAction(parse => CliRunner.Guard(stderr, () =>
        {
            string? t = parse.GetValue(text);
            var f = parse.GetValue(file);
            if ((t is null) == (f is null))
                throw new UsageException("give exactly one of --text and --file");
            string input = t ?? ReadFile(f!);
            var tok = Tokenizer.Load(parse.GetValue(tokenizer)!);
            if (parse.GetValue(count))
                stdout.WriteLine(tok.CountTokens(input) + (parse.GetValue(addBos) ? 1 : 0));
            else
                stdout.WriteLine("[" + string.Join(",", tok.Encode(input, parse.GetValue(addBos))) + "]");
            return CliRunner.Ok;
        }));
        return command;
    }

    private static string ReadFile(FileInfo file)
    {
        if (!file.Exists)
            throw new InvalidInputException($"file not found: {file.FullName}");
        return File.ReadAllText(file.FullName);
    }
}

/// <summary>The --tokenizer option every tokenizer command shares.</summary>
internal static class TokenizerOption
{
    public static Option<string> Create() => new("--tokenizer")
    {
        Description = "A folder with tokenizer.json (and tokenizer_config.json), or a tokenizer.json file.",
        Required = true,
    };
}
