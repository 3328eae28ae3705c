using System.Text.RegularExpressions;
using CsCheck;
using SeekSharp.Tests.Cli;
using SeekSharp.Tests.Golden;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Random argument vectors to the CLI's in-process entry (<c>Program.Run</c>), built from every command's own flags
/// (read from its --help) and from values that break parsers (empty, negative, 2^31, 1e309, NaN, Unicode, paths that
/// are missing, garbage, a folder, a real model): each must end with exit code 0, 1 or 2, within the time limit, and
/// never print a stack trace or "Unhandled exception" (docs/reliability.md). Commands that would run for long or write
/// files (serve, train, init, quantize, export, eval, perplexity, plot, tokenizer train, mpi-check, chat, score) always get
/// an unknown flag as well, so only their parsing runs; the others run (models are the tiny golden one, or broken).
/// </summary>
public sealed partial class CliArgumentFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-fuzz-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Long = ["serve", "train", "init", "quantize", "export", "eval", "perplexity", "plot", "tokenizer", "mpi-check", "chat", "score"];

    private const string Unknown = "--no-such-flag";

    [GeneratedRegex(@"^\s+(?:-\S+, )*(--[a-z0-9][a-z0-9-]*)", RegexOptions.Multiline)]
    private static partial Regex OptionLine();

    [GeneratedRegex(@"^\s+at \S+", RegexOptions.Multiline)]
    private static partial Regex StackFrame();

    [Fact]
    public void RandomArgumentVectorsEndInAnExitCodeAndAMessage()
    {
        var root = CliTestHost.Run("--help");
        var commands = Regex.Matches(root.Out[root.Out.IndexOf("Commands:", StringComparison.Ordinal)..], @"^\s{2}([a-z-]+)", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToArray();
        Assert.Contains("generate", commands);
        var flags = commands.ToDictionary(c => c, c => OptionLine().Matches(CliTestHost.Run(c, "--help").Out).Select(m => m.Groups[1].Value).Where(f => f != "--help").Distinct().ToArray());

        string golden = new GoldenCase("q_lora_null").Dir;
        string garbage = Path.Combine(_dir, "garbage.bin");
        File.WriteAllBytes(garbage, TestUtil.RandomArray(64, 3).SelectMany(BitConverter.GetBytes).ToArray());
        string text = Path.Combine(_dir, "text.txt");
        File.WriteAllText(text, "Hello, world!\n");
        string messages = Path.Combine(_dir, "messages.json");
        File.WriteAllText(messages, """[{"role": "user", "content": "hi"}]""");
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        string[] values =
        [
            "", " ", "0", "-1", "1", "2", "3", "0.5", "2147483648", "-2147483649", "1e309", "NaN", "-0", "1K", "14.8T", "x", "é😀", "\t\n", "-", "--",
            "q8", "q4", "gguf", "mtp", "off", "true", "h100", "bf16", "1,2,3", "[1, 2]", "0,-1", "../..", "/", Path.Combine(_dir, "missing"), garbage, text,
            messages, Path.Combine(_dir, "empty"), golden, Path.Combine(golden, "config.json"), Path.Combine(TestUtil.DataDir, "tiny-tokenizer"),
        ];
        var gen = Gen.Select(Gen.Int[0, commands.Length + 1], Gen.Select(Gen.Int[0, 9], Gen.Int[0, 1000], Gen.String[0, 6], (k, i, s) => (k, i, s)).Array[0, 6],
            (c, picks) =>
            {
                var args = new List<string>();
                string? command = c < commands.Length ? commands[c] : c == commands.Length ? null : "frobnicate";
                if (command is not null) args.Add(command);
                var own = command is null ? ["--version"] : flags.GetValueOrDefault(command, []);
                foreach (var (k, i, s) in picks)
                    args.Add(k switch
                    {
                        < 4 when own.Length > 0 => own[i % own.Length],
                        < 8 => values[i % values.Length],
                        8 => s,
                        _ => i % 25 == 0 ? "--help" : values[i % values.Length],
                    });
                if (command is not null && Long.Contains(command)) args.Insert(1, Unknown);   // before any "--", after which it would be an argument
                // Runs that load a model load the tiny golden one (or a broken one), never the default model.
                if (command is "generate" && !args.Contains("--model") && !args.Contains("--help")) args.AddRange(["--model", golden]);
                return args.ToArray();
            });
        var codes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        FuzzRunner.Run("CLI arguments", gen, args =>
        {
            var (code, stdout, stderr) = CliTestHost.Run(args);
            codes.AddOrUpdate($"{(args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "(none)")} {code}", 1, (_, n) => n + 1);
            string all = stdout + stderr;
            if (code is not (0 or 1 or 2)) throw new XunitException($"exit code {code}: {stderr}");
            if (StackFrame().IsMatch(all) || all.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase))
                throw new XunitException($"a stack trace: {stderr}");
            if (code != 0 && stderr.Trim().Length == 0) throw new XunitException($"exit code {code} with nothing on stderr");
            if (stderr.StartsWith("error: ", StringComparison.Ordinal) && stderr.TrimEnd('\n').Contains('\n'))
                throw new XunitException($"an error of more than one line: {stderr}");
        }, FuzzRunner.Iterations(200), output, print: a => "seeksharp " + string.Join(" ", a.Select(x => $"'{x}'")));
        output.WriteLine("  command and exit code: " + string.Join(", ", codes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {p.Value}")));
    }
}
