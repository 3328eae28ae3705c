using System.CommandLine;
using System.Text.Json;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp perplexity --model DIR --file TEXT [--window N] [--compare q8|q4]</c>: perplexity on a text, and with
/// --compare the cost of quantising: the quantised model's perplexity, KL divergence from the float model, top-1 agreement.
/// </summary>
internal static class PerplexityCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = CliCommon.ModelFolderHelp, Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer, when the model folder has none." };
        var file = new Option<string>("--file") { Description = "UTF-8 text to score.", Required = true };
        var window = new Option<int>("--window") { Description = "Tokens per scored window.", DefaultValueFactory = _ => 256 };
        var maxWindows = new Option<int>("--max-windows") { Description = "Score at most this many windows (0: all).", DefaultValueFactory = _ => 0 };
        var compare = new Option<string?>("--compare") { Description = "Also score a q8 or q4 copy and compare it with the float model." };
        compare.AcceptOnlyFromAmong("q8", "q4");
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var threads = CliCommon.ThreadsOption();
        var command = new Command("perplexity", "Perplexity on a text; with --compare, the quality cost of quantised weights.")
            { model, tokenizer, file, window, maxWindows, compare, json, threads };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            using var ctrlC = CliCommon.CtrlC();
            var ct = ctrlC.Token;
            string dir = ModelPath.Resolve(r.GetValue(model)!);
            if (!File.Exists(r.GetValue(file))) throw new UsageException($"--file: {r.GetValue(file)} does not exist.");
            var tok = Tokenizer.Load(r.GetValue(tokenizer) ?? dir);
            using var pool = CliCommon.Pool(r.GetValue(threads));
            var m = CliCommon.LoadModel(dir, stderr, new ModelLoadOptions { MatrixStorage = Tensors.ElementType.F32 });
            DeepSeekModel? q = null;
            if (r.GetValue(compare) is { } type)
                q = CliCommon.LoadModel(dir, stderr, new ModelLoadOptions { Quantization = ModelQuantizer.Parse(type), Pool = pool });
            var ids = tok.Encode(File.ReadAllText(r.GetValue(file)!), tok.AddBosToken);
            int w = r.GetValue(window);
            if (r.GetValue(maxWindows) > 0) ids = ids.Take(r.GetValue(maxWindows) * w).ToArray();
            var result = Perplexity.Evaluate(m, ids, w, pool, q, tok.VocabSize, ct);
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            else
            {
                stdout.WriteLine($"{result.Tokens} tokens in {result.Windows} windows of {w}: perplexity {result.Perplexity:F4} (mean NLL {result.MeanNll:F5})");
                if (q is not null)
                    stdout.WriteLine($"{r.GetValue(compare)}: perplexity {result.OtherPerplexity:F4} ({(result.OtherPerplexity / result.Perplexity - 1):+0.00%;-0.00%}), KL {result.MeanKl:E3} nats mean / {result.MaxKl:E3} max, top-1 agreement {result.Top1Agreement:P2}");
            }
            return CliRunner.Ok;
        }));
        return command;
    }
}
