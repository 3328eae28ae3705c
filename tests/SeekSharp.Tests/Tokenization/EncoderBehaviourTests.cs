using System.Text;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class EncoderBehaviourTests
{
    // Long texts: every reference text and HF random text, joined with line breaks, spaces and nothing.
    private static IEnumerable<string> LongTexts()
    {
        var texts = TokenizerData.EncodeCases().Concat(TokenizerData.EncodeCases("hf_random_cases.json")).Select(c => c.Text).ToList();
        yield return string.Join("\n", texts);
        yield return string.Join(" ", texts);
        yield return string.Concat(texts);
        yield return string.Join("\n", Enumerable.Repeat("word another\n  indented 123456 深度求索 🙂", 3000));
    }

    [Fact]
    public void ChunkedEncodingEqualsWholeEncoding()
    {
        var chunked = Tokenizer.Load(TokenizerData.DeepSeekV3Folder);
        var whole = Tokenizer.Load(TokenizerData.DeepSeekV3Folder);
        chunked.ChunkChars = 257;   // many cuts, at every kind of place
        whole.ChunkChars = int.MaxValue;
        foreach (string text in LongTexts())
        {
            Assert.True(text.Length > 20_000);
            Assert.Equal(whole.Encode(text), chunked.Encode(text));
            Assert.Equal(TokenizerData.DeepSeekV3.Encode(text), whole.Encode(text));
        }
    }

    [Fact]
    public void ConcurrentEncodingGivesTheSameIds()
    {
        var tok = Tokenizer.Load(TokenizerData.DeepSeekV3Folder);   // a fresh cache, filled by racing threads
        var cases = TokenizerData.EncodeCases().Concat(TokenizerData.EncodeCases("hf_random_cases.json")).ToList();
        var failures = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            for (int round = 0; round < 3; round++)
                for (int i = worker % cases.Count; i < cases.Count; i++)
                {
                    var (text, ids) = cases[(i + worker * 37) % cases.Count];
                    if (!tok.Encode(text).AsSpan().SequenceEqual(ids) || tok.CountTokens(text) != ids.Length)
                        Interlocked.Increment(ref failures);
                }
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void CountTokensAllocatesNothingOnceWarm()
    {
        var tok = TokenizerData.DeepSeekV3;
        string text = string.Join("\n", TokenizerData.EncodeCases().Select(c => c.Text));
        int expected = tok.CountTokens(text);   // warms the cache and this thread's buffers
        long before = GC.GetAllocatedBytesForCurrentThread();
        int count = tok.CountTokens(text);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(expected, count);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void PathologicalInputsFinish()
    {
        var tok = TokenizerData.DeepSeekV3;
        foreach (string text in new[] { new string('a', 200_000), new string(' ', 100_000), new string('\n', 50_000), string.Concat(Enumerable.Repeat("🙂", 30_000)), new string('<', 50_000) })
        {
            var ids = tok.Encode(text);
            Assert.Equal(text, tok.Decode(ids));
            Assert.Equal(ids.Length, tok.CountTokens(text));
        }
    }
}
