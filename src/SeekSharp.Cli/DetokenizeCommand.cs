using System.CommandLine;
using System.Globalization;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp detokenize --tokenizer PATH --ids 1,2,3 [--skip-special]</c>: prints the text, exactly, with no newline added.</summary>
internal static class DetokenizeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var tokenizer = TokenizerOption.Create();
        var ids = new Option<string>("--ids") { Description = "Token ids: 1,2,3 or a JSON array [1, 2, 3].", Required = true };
        var skip = new Option<bool>("--skip-special") { Description = "Leave out special tokens (BOS, EOS, ...)." };
        var command = new Command("detokenize", "Decode token ids to text.") { tokenizer, ids, skip };
        command.SetAction(parse => CliRunner.Guard(stderr, () =>
        {
            var parsed = ParseIds(parse.GetValue(ids)!);
            var tok = Tokenizer.Load(parse.GetValue(tokenizer)!);
            stdout.Write(tok.Decode(parsed, parse.GetValue(skip)));
            return CliRunner.Ok;
        }));
        return command;
    }

    internal static int[] ParseIds(string text)
    {
        var parts = text.Trim().TrimStart('[').TrimEnd(']').Split([',', ' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result[i]))
                throw new UsageException($"--ids: '{parts[i]}' (item {i + 1}) is not a token id");
        return result;
    }
}
