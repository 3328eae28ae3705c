using System.Text;
using SeekSharp.Inference;
using SeekSharp.Tokenization;

namespace SeekSharp.Evaluation;

/// <summary>One answered question.</summary>
public sealed record QaResult(QaItem Item, string Answer, double Score, bool Correct, GenerationStats Stats);

/// <summary>Totals for one kind of question (or all of them).</summary>
public sealed record QaSummary(string Kind, ScoringRule Scoring, int Count, int Correct, double MeanScore)
{
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>
/// Asks a model every question of an evaluation set through its chat template and scores the replies
/// (<see cref="AnswerScoring"/>). Replies are generated with the given options (greedy for a reproducible score).
/// </summary>
public static class QaEvaluation
{
    public static IEnumerable<QaResult> Run(Generator generator, Tokenizer tokenizer, IEnumerable<QaItem> items, GenerationOptions options,
        CancellationToken cancellationToken = default)
    {
        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prompt = tokenizer.EncodeChat(item.Messages, addGenerationPrompt: true);
            var stats = new GenerationStats();
            var text = new StringBuilder();
            foreach (var piece in generator.Generate(prompt, options, stats, cancellationToken)) text.Append(piece);
            if (stats.FinishReason == FinishReason.Cancelled) throw new OperationCanceledException(cancellationToken);
            string answer = text.ToString().Trim();
            var (score, correct) = AnswerScoring.Score(item.Scoring, item.Question, answer, item.References);
            yield return new QaResult(item, answer, score, correct, stats);
        }
    }

    /// <summary>One summary per (kind, scoring), in order of first appearance, then "all" per scoring rule.</summary>
    public static List<QaSummary> Summarize(IReadOnlyList<QaResult> results)
    {
        var list = results.GroupBy(r => (r.Item.Kind, r.Item.Scoring))
            .Select(g => new QaSummary(g.Key.Kind, g.Key.Scoring, g.Count(), g.Count(r => r.Correct), g.Average(r => r.Score))).ToList();
        if (list.Count > 1)
            list.AddRange(results.GroupBy(r => r.Item.Scoring)
                .Select(g => new QaSummary("all", g.Key, g.Count(), g.Count(r => r.Correct), g.Average(r => r.Score))));
        return list;
    }
}
