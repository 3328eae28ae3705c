using System.CommandLine;
using System.Diagnostics;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp tokenizer train --input PATH [--input PATH ...] --vocab-size N --out DIR [--min-frequency 2] [--threads 0]</c>:
/// learns a byte-level BPE with DeepSeek-V3's pre-tokenizer, specials and chat template, and writes tokenizer.json
/// and tokenizer_config.json. Progress on stderr, a summary on stdout; Ctrl+C stops it.
/// </summary>
internal static class TokenizerTrainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var input = new Option<string[]>("--input") { Description = "UTF-8 text file or folder (repeatable).", Required = true, AllowMultipleArgumentsPerToken = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = $"Vocabulary size, specials included (at least {BpeTrainer.MinimumVocabSize}).", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for tokenizer.json and tokenizer_config.json.", Required = true };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Stop when the best pair occurs fewer times.", DefaultValueFactory = _ => 2 };
        var threads = new Option<int>("--threads") { Description = "Threads for counting (0: all cores).", DefaultValueFactory = _ => 0 };
        var train = new Command("train", "Train a byte-level BPE vocabulary (DeepSeek-V3 layout) on text.") { input, vocabSize, output, minFrequency, threads };
        train.SetAction((parse, cancellationToken) => Task.FromResult(CliRunner.Guard(stderr, () =>
        {
            var clock = Stopwatch.StartNew();
            var options = new BpeTrainerOptions(parse.GetValue(vocabSize), parse.GetValue(minFrequency), parse.GetValue(threads));
            var tok = BpeTrainer.TrainFromFiles(parse.GetValue(input)!, options, stderr.WriteLine, cancellationToken);
            string dir = parse.GetValue(output)!;
            tok.Save(dir);
            stdout.WriteLine($"wrote {Path.Combine(dir, "tokenizer.json")} and tokenizer_config.json: vocabulary {tok.VocabSize}, {clock.Elapsed.TotalSeconds:F1} s");
            return CliRunner.Ok;
        })));
        return new Command("tokenizer", "Tokenizer tools.") { train };
    }
}
