using System.Text.RegularExpressions;

namespace SeekSharp.Evaluation;

/// <summary>How an answer is compared with its references.</summary>
public enum ScoringRule
{
    /// <summary>A fact: correct when one reference (a number, a symbol, a name) appears in the answer as a whole word.</summary>
    Exact,
    /// <summary>
    /// A definition: the share of a reference's content words that the answer also has (recall), best over the
    /// references; correct at ≥ <see cref="AnswerScoring.OverlapThreshold"/>.
    /// </summary>
    Overlap,
}

/// <summary>
/// Scores a model's answer against reference answers.
/// <para>
/// Content words: lower-cased runs of letters and digits, without English function words, lightly stemmed (plural
/// -s/-es/-ies, -ing, -ed), so that "hides" matches "hiding" and "hidden" does not. Words of the question are taken
/// out of both sides, so an answer that only repeats the question scores nothing.
/// </para>
/// </summary>
public static partial class AnswerScoring
{
    /// <summary>An overlap answer is counted correct when it has at least half of one reference's content words.</summary>
    public const double OverlapThreshold = 0.5;

    /// <summary>(score in [0, 1], correct).</summary>
    public static (double Score, bool Correct) Score(ScoringRule rule, string question, string answer, IReadOnlyList<string> references)
    {
        if (references.Count == 0) throw new InvalidInputException("An evaluation item needs at least one reference answer.");
        if (rule == ScoringRule.Exact)
        {
            bool hit = references.Any(r => r.Trim().Length > 0 &&
                Regex.IsMatch(answer, $@"(?<![\p{{L}}\p{{N}}]){Regex.Escape(r.Trim())}(?![\p{{L}}\p{{N}}]|\.\d)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant));
            return (hit ? 1 : 0, hit);
        }
        var asked = ContentWords(question);
        var said = ContentWords(answer);
        said.ExceptWith(asked);
        double best = 0;
        foreach (var r in references)
        {
            var want = ContentWords(r);
            want.ExceptWith(asked);
            if (want.Count == 0) continue;
            int shared = want.Count(said.Contains);
            best = Math.Max(best, (double)shared / want.Count);
        }
        return (best, best >= OverlapThreshold);
    }

    /// <summary>The set of stemmed content words of a text.</summary>
    public static HashSet<string> ContentWords(string text)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in Word().Matches(text.ToLowerInvariant()))
        {
            string w = m.Value;
            if (StopWords.Contains(w) || (w.Length < 2 && !char.IsDigit(w[0]))) continue;
            set.Add(Stem(w));
        }
        return set;
    }

    /// <summary>A light suffix stripper (not Porter): enough to match a plural or a participle to its stem.</summary>
    public static string Stem(string w)
    {
        if (w.Length > 4 && w.EndsWith("ies", StringComparison.Ordinal)) w = w[..^3] + "y";
        else if (w.Length > 4 && (w.EndsWith("ches", StringComparison.Ordinal) || w.EndsWith("shes", StringComparison.Ordinal) || w.EndsWith("sses", StringComparison.Ordinal) || w.EndsWith("xes", StringComparison.Ordinal)))
            w = w[..^2];
        else if (w.Length > 3 && w[^1] == 's' && w[^2] is not ('s' or 'u' or 'i')) w = w[..^1];
        if (w.Length > 5 && w.EndsWith("ing", StringComparison.Ordinal)) w = w[..^3];
        else if (w.Length > 4 && w.EndsWith("ed", StringComparison.Ordinal)) w = w[..^2];
        if (w.Length > 3 && w[^1] == 'e') w = w[..^1];
        return w;
    }

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex Word();

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "nor", "but", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "as",
        "is", "are", "was", "were", "be", "been", "being", "am", "it", "its", "this", "that", "these", "those", "which", "who",
        "whom", "whose", "what", "when", "where", "how", "why", "there", "their", "they", "them", "he", "she", "his", "her", "him",
        "i", "you", "your", "we", "our", "us", "me", "my", "one", "ones", "some", "any", "all", "each", "every", "no", "not",
        "so", "such", "than", "then", "too", "very", "can", "could", "may", "might", "must", "shall", "should", "will", "would",
        "do", "does", "did", "done", "have", "has", "had", "having", "also", "about", "up", "down", "out", "over", "under", "if",
        "other", "more", "most", "less", "least", "used", "use", "usually", "especially", "esp", "e", "g", "etc", "something",
        "someone", "mean", "means", "meaning", "noun", "verb", "adjective", "adverb", "word", "kind", "type",
    };
}
