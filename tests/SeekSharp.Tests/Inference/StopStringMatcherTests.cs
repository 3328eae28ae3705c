using System.Text;
using SeekSharp.Inference;
using Xunit;

namespace SeekSharp.Tests.Inference;

[Collection(nameof(SamplingCollection))]
public class StopStringMatcherTests
{
    /// <summary>
    /// The definition, one character at a time: stop at the first position where some stop string ends (the
    /// longest of those ending there); show everything before its start.
    /// </summary>
    private static (string Shown, string? Stop) Reference(string text, IReadOnlyList<string> stops)
    {
        for (int end = 1; end <= text.Length; end++)
        {
            string? best = null;
            foreach (var s in stops)
                if (s.Length <= end && string.CompareOrdinal(text, end - s.Length, s, 0, s.Length) == 0 && (best is null || s.Length > best.Length))
                    best = s;
            if (best is not null) return (text[..(end - best.Length)], best);
        }
        return (text, null);
    }

    /// <summary>
    /// Feeds the pieces and checks, after every call, that all that has been shown is a prefix of the final answer
    /// (so no part of a stop string is ever shown), that nothing splits a surrogate pair, and that the final result
    /// is the reference's.
    /// </summary>
    private static void Check(IReadOnlyList<string> pieces, IReadOnlyList<string> stops)
    {
        string text = string.Concat(pieces);
        var (expected, expectedStop) = Reference(text, stops);
        var m = new StopStringMatcher(stops);
        var shown = new StringBuilder();
        StopResult r = default;
        foreach (var piece in pieces)
        {
            r = m.Append(piece);
            if (r.Emit.Length > 0)
            {
                Assert.False(char.IsHighSurrogate(r.Emit[^1]), $"emitted text ends inside a surrogate pair: {Show(pieces)}");
                Assert.False(char.IsLowSurrogate(r.Emit[0]), $"emitted text starts inside a surrogate pair: {Show(pieces)}");
            }
            shown.Append(r.Emit);
            Assert.True(expected.StartsWith(shown.ToString(), StringComparison.Ordinal), $"showed '{shown}' for {Show(pieces)}; the answer is '{expected}'");
            if (r.Stopped) break;
        }
        if (!r.Stopped) shown.Append(m.Flush());
        Assert.Equal(expected, shown.ToString());
        Assert.Equal(expectedStop, m.MatchedStop);
        Assert.Equal(expectedStop is not null, m.Stopped);
    }

    private static string Show(IReadOnlyList<string> pieces) => "[" + string.Join("|", pieces) + "]";

    /// <summary>Every way of cutting <paramref name="text"/> into pieces (2^(n−1) of them).</summary>
    private static IEnumerable<string[]> AllSplits(string text)
    {
        int cuts = text.Length - 1;
        for (int mask = 0; mask < 1 << cuts; mask++)
        {
            var pieces = new List<string>();
            int start = 0;
            for (int i = 0; i < cuts; i++)
                if ((mask & (1 << i)) != 0) { pieces.Add(text[start..(i + 1)]); start = i + 1; }
            pieces.Add(text[start..]);
            yield return pieces.ToArray();
        }
    }

    [Theory]
    [InlineData("Hi</s>there", new[] { "</s>" })]
    [InlineData("a<</s>", new[] { "</s>" })]                              // a false start right before the stop
    [InlineData("xabcz", new[] { "ab", "abc" })]                          // "ab" ends first
    [InlineData("xabc!", new[] { "abc", "bc" })]                          // both end at c: the longer one
    [InlineData("aab\nUser:", new[] { "\nUser:", "b\nU" })]
    [InlineData("a <x b<", new[] { "<stop>", "<x>" })]                    // prefixes only, one left for Flush
    [InlineData("ab😀e😀end", new[] { "😀end" })]                        // emoji stop after an emoji false start
    [InlineData("你好停下停止吧", new[] { "停止" })]                         // CJK
    public void EveryWayOfSplittingTheTextGivesTheSameAnswer(string text, string[] stops)
    {
        foreach (var pieces in AllSplits(text)) Check(pieces, stops);
    }

    [Fact]
    public void RandomTextsAndRandomSplitsIncludingEmptyPieces()
    {
        var random = new Random(1234);
        string[] alphabet = ["a", "b", "c", "<", "/", ">", "\n", "😀", "停", " "];
        string[][] stopSets = [["</s>"], ["ab", "abc"], ["bca", "cab", "a\n"], ["😀😀", "< /"], ["停停a"], []];
        for (int trial = 0; trial < 3000; trial++)
        {
            var stops = stopSets[trial % stopSets.Length];
            var text = new StringBuilder();
            int length = random.Next(0, 25);
            for (int i = 0; i < length; i++)
            {
                if (stops.Length > 0 && random.Next(12) == 0) text.Append(stops[random.Next(stops.Length)]);
                else text.Append(alphabet[random.Next(alphabet.Length)]);
            }
            string s = text.ToString();
            var pieces = new List<string>();
            for (int start = 0; start < s.Length || pieces.Count == 0;)
            {
                int take = Math.Min(s.Length - start, random.Next(0, 5));   // 0: an empty piece
                pieces.Add(s.Substring(start, take));
                start += take;
                if (s.Length == 0) break;
            }
            Check(pieces, stops);
        }
    }

    [Fact]
    public void AStopPrefixIsHeldBackThenReleasedWhenTheTextDiverges()
    {
        var m = new StopStringMatcher(["</s>"]);
        Assert.Equal(new StopResult("Hello ", false, null), m.Append("Hello <"));
        Assert.Equal(new StopResult("", false, null), m.Append("/"));
        Assert.Equal(new StopResult("", false, null), m.Append(""));
        Assert.Equal(new StopResult("</x", false, null), m.Append("x"));
        Assert.Equal(new StopResult(" more ", false, null), m.Append(" more <"));
        Assert.Equal("<", m.Flush());
    }

    [Fact]
    public void FlushReleasesTheHeldTailAndAStopIsFinal()
    {
        var m = new StopStringMatcher(["<|end|>", "\n\nUser:"]);
        Assert.Equal("The answer", m.Append("The answer\n\nUse").Emit);
        Assert.Equal("\n\nUse", m.Flush());                         // generation ended for another reason
        Assert.Equal("", m.Flush());

        m.Reset();
        Assert.Equal(new StopResult("42.", true, "<|end|>"), m.Append("42.<|end|> and more"));
        Assert.Equal(new StopResult("", true, "<|end|>"), m.Append("ignored"));
        Assert.Equal("", m.Flush());
        m.Reset();
        Assert.False(m.Stopped);
        Assert.Equal("fresh", m.Append("fresh").Emit);
    }

    [Fact]
    public void WithoutStopsEverythingPassesStraightThrough()
    {
        var m = new StopStringMatcher([]);
        Assert.Equal("abc", m.Append("abc").Emit);
        Assert.Equal("", m.Append("").Emit);
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void ADanglingHighSurrogateIsHeldUntilItsPairArrives()
    {
        var m = new StopStringMatcher(["zz"]);
        string emoji = "😀";
        Assert.Equal("a", m.Append("a" + emoji[0]).Emit);
        Assert.Equal(emoji + "b", m.Append(emoji[1] + "b").Emit);
    }

    [Fact]
    public void AnEmptyStopStringIsInvalid()
    {
        Assert.Throws<InvalidInputException>(() => new StopStringMatcher(["ok", ""]));
    }
}
