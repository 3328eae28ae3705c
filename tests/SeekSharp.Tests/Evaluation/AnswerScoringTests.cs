using SeekSharp.Evaluation;
using Xunit;

namespace SeekSharp.Tests.Evaluation;

public class AnswerScoringTests
{
    [Theory]
    [InlineData("The atomic number of gold is 79.", "79", true)]
    [InlineData("The atomic number of gold is 179.", "79", false)]
    [InlineData("The atomic number of gold is 79.5.", "79", false)]
    [InlineData("The chemical symbol for gold is Au.", "Au", true)]
    [InlineData("The chemical symbol for gold is Aurum.", "Au", false)]
    [InlineData("Element number 79 is gold.", "gold", true)]
    [InlineData("The atomic weight of gold is 196.967.", "196.967", true)]
    public void ExactFactsMustAppearAsAWholeWord(string answer, string reference, bool correct)
    {
        var (score, ok) = AnswerScoring.Score(ScoringRule.Exact, "question", answer, [reference]);
        Assert.Equal(correct, ok);
        Assert.Equal(correct ? 1.0 : 0.0, score);
    }

    [Fact]
    public void OverlapIsTheShareOfTheBestReferencesContentWords()
    {
        string q = "What does abdomen mean?";
        string[] refs = ["the region of the body of a vertebrate between the thorax and the pelvis", "the cavity containing the major viscera"];
        // Reference 1's content words: region, body, vertebrate, between, thorax, pelvis (6).
        var (full, ok) = AnswerScoring.Score(ScoringRule.Overlap, q, "As a noun, \"abdomen\" means the region of the body between the thorax and the pelvis of a vertebrate.", refs);
        Assert.True(ok);
        Assert.Equal(1.0, full);
        var (half, okHalf) = AnswerScoring.Score(ScoringRule.Overlap, q, "It is the region of the body near the pelvis.", refs);
        Assert.Equal(0.5, half);
        Assert.True(okHalf);
        var (low, okLow) = AnswerScoring.Score(ScoringRule.Overlap, q, "A kind of bird.", refs);
        Assert.Equal(0.0, low);
        Assert.False(okLow);
    }

    [Fact]
    public void RepeatingTheQuestionEarnsNothingAndStemsMatchInflections()
    {
        var (echo, _) = AnswerScoring.Score(ScoringRule.Overlap, "What does dog paddle mean?", "Dog paddle means dog paddle.", ["a swimming stroke imitating a swimming dog"]);
        Assert.Equal(0.0, echo);
        Assert.Equal(AnswerScoring.ContentWords("hides hiding"), AnswerScoring.ContentWords("hide"));
        Assert.Equal(AnswerScoring.ContentWords("stories"), AnswerScoring.ContentWords("story"));
        Assert.Empty(AnswerScoring.ContentWords("it is the one that was used"));
    }

    [Fact]
    public void AnItemWithoutReferencesIsAnError()
    {
        Assert.Throws<InvalidInputException>(() => AnswerScoring.Score(ScoringRule.Overlap, "q", "a", []));
        var e = Assert.Throws<InvalidInputException>(() => QaItem.Parse("""{"messages": [{"role": "user", "content": "q"}], "references": []}"""));
        Assert.Contains("empty", e.Message);
        var s = Assert.Throws<InvalidInputException>(() => QaItem.Parse("""{"messages": [{"role": "user", "content": "q"}], "references": ["x"], "scoring": "fuzzy"}"""));
        Assert.Contains("exact or overlap", s.Message);
        var last = Assert.Throws<InvalidInputException>(() => QaItem.Parse("""{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "references": ["x"]}"""));
        Assert.Contains("last message", last.Message);
    }
}
