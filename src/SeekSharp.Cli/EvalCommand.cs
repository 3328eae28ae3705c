using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using SeekSharp.Evaluation;
using SeekSharp.Inference;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp eval [--model DIR] --qa FILE.jsonl</c>: asks the model every question (greedy unless --temperature is
/// given), scores each answer against its references (exact facts, or content-word overlap for definitions) and prints
/// the share answered correctly per kind; --out keeps every answer.
/// </summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var flags = new GenerationFlags();
        var qa = new Option<string>("--qa") { Description = "JSONL of questions: {\"messages\": [...], \"references\": [...], \"scoring\": \"exact\"|\"overlap\", \"kind\": ...}.", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Only the first N questions." };
        var output = new Option<string?>("--out") { Description = "Write every question, answer and score here (JSONL)." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var command = new Command("eval", "Ask a model the questions of an evaluation set and score its answers against references.") { qa, limit, output, json };
        foreach (var o in flags.All()) command.Options.Add(o);
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            using var ctrlC = CliCommon.CtrlC();
            var ct = ctrlC.Token;
            var items = QaItem.ReadJsonl(r.GetValue(qa)!);
            if (r.GetValue(limit) is { } n)
            {
                if (n <= 0) throw new UsageException($"--limit must be positive, got {n}.");
                items = items.Take(n).ToList();
            }
            using var pool = CliCommon.Pool(r.GetValue(flags.Threads));
            var (generator, tokenizer, options) = flags.Open(r, pool, stderr, allowDefault: true);
            if (r.GetValue(flags.Temperature) is null) options = options with { Sampling = options.Sampling with { Temperature = 0 } };
            if (r.GetValue(flags.MaxTokens) is null) options = options with { MaxTokens = 128 };
            if (tokenizer.ChatTemplate is null) throw new InvalidInputException("The tokenizer has no chat template, so questions cannot be asked.");

            var results = new List<QaResult>();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                foreach (var result in QaEvaluation.Run(generator, tokenizer, items, options, ct))
                {
                    results.Add(result);
                    if (results.Count % 50 == 0 || results.Count == items.Count)
                        stderr.WriteLine($"{results.Count}/{items.Count} answered, {results.Count(x => x.Correct)} correct, {sw.Elapsed.TotalSeconds:F0} s");
                }
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine($"stopped after {results.Count} questions");
                if (results.Count == 0) return CliRunner.Cancelled;
            }
            if (r.GetValue(output) is { } path) WriteResults(path, results);
            var summary = QaEvaluation.Summarize(results);
            var speed = Speed(results);
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new
                {
                    questions = results.Count,
                    summary = summary.Select(s => new { kind = s.Kind, scoring = s.Scoring.ToString().ToLowerInvariant(), questions = s.Count, correct = s.Correct, accuracy = s.Accuracy, mean_score = s.MeanScore }),
                    generation = speed,
                }, new JsonSerializerOptions { WriteIndented = true }));
            else
            {
                stdout.WriteLine($"{"kind",-16} {"scoring",-8} {"questions",9} {"correct",8} {"share",7} {"mean score",10}");
                foreach (var s in summary)
                    stdout.WriteLine($"{s.Kind,-16} {s.Scoring.ToString().ToLowerInvariant(),-8} {s.Count,9} {s.Correct,8} {s.Accuracy,7:P1} {s.MeanScore,10:F3}");
                stdout.WriteLine($"generated {speed.Tokens} tokens in {speed.DecodeSeconds:F1} s of decoding ({speed.TokensPerSecond:F1} tokens/s)"
                    + (speed.Drafted > 0 ? $"; MTP drafts accepted {speed.Accepted}/{speed.Drafted} ({(double)speed.Accepted / speed.Drafted:P1}), {speed.TokensPerForward:F2} tokens per main forward" : ""));
            }
            return results.Count == items.Count ? CliRunner.Ok : CliRunner.Cancelled;
        }));
        return command;
    }

    private sealed record SpeedTotals(int Tokens, double DecodeSeconds, double TokensPerSecond, int Drafted, int Accepted, double TokensPerForward);

    private static SpeedTotals Speed(List<QaResult> results)
    {
        int tokens = results.Sum(x => x.Stats.GeneratedTokens);
        double seconds = results.Sum(x => x.Stats.DecodeSeconds);
        // Forwards per reply = generated / tokens-per-forward; the ratio of the sums is the overall tokens per forward.
        double forwards = results.Sum(x => x.Stats.TokensPerForward > 0 ? x.Stats.GeneratedTokens / x.Stats.TokensPerForward : 0);
        return new SpeedTotals(tokens, seconds, seconds > 0 ? tokens / seconds : 0, results.Sum(x => x.Stats.Drafted), results.Sum(x => x.Stats.Accepted),
            forwards > 0 ? tokens / forwards : 0);
    }

    private static void WriteResults(string path, List<QaResult> results)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".tmp";
        var jsonOptions = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var w = new StreamWriter(tmp))
            foreach (var x in results)
                w.WriteLine(JsonSerializer.Serialize(new
                {
                    kind = x.Item.Kind,
                    question = x.Item.Question,
                    answer = x.Answer,
                    score = Math.Round(x.Score, 4),
                    correct = x.Correct,
                    references = x.Item.References,
                }, jsonOptions));
        File.Move(tmp, full, overwrite: true);
    }
}
