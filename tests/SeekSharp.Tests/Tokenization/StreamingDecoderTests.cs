using System.Text;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

public class StreamingDecoderTests
{
    private static Tokenizer Tok => TokenizerData.DeepSeekV3;

    [Fact]
    public void EmitsOnlyWholeCharactersAndAddsUpToDecode()
    {
        foreach (var (text, ids) in TokenizerData.EncodeCases())
        {
            var decoder = Tok.CreateStreamingDecoder(skipSpecialTokens: false);
            var sb = new StringBuilder();
            foreach (int id in ids)
            {
                string part = decoder.Append(id);
                Assert.DoesNotContain('\uFFFD', part);          // never half a character
                Assert.False(part.Length > 0 && char.IsHighSurrogate(part[^1]));
                sb.Append(part);
            }
            sb.Append(decoder.Flush());
            Assert.Equal(text, sb.ToString());
            Assert.Equal(0, decoder.PendingByteCount);
        }
    }

    [Fact]
    public void HoldsBackAnEmojiUntilItsLastByteArrives()
    {
        var ids = Tok.Encode("🦙");
        var decoder = Tok.CreateStreamingDecoder();
        for (int i = 0; i < ids.Length - 1; i++)
            Assert.Equal("", decoder.Append(ids[i]));
        Assert.True(decoder.PendingByteCount > 0);
        Assert.Equal("🦙", decoder.Append(ids[^1]));
    }

    [Fact]
    public void FlushTurnsAnIncompleteCharacterIntoOneReplacementCharacter()
    {
        var ids = Tok.Encode("深");
        var decoder = Tok.CreateStreamingDecoder();
        string head = ids.Length > 1 ? decoder.Append(ids[0]) : "";
        Assert.Equal("", head);
        if (ids.Length > 1)
            Assert.Equal(Tok.Decode(ids.AsSpan(0, 1)), decoder.Flush());
    }

    [Fact]
    public void SkipsSpecialTokensByDefault()
    {
        var ids = Tok.Encode("<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>");
        var skipping = Tok.CreateStreamingDecoder();
        Assert.Equal("Hi", string.Concat(ids.Select(skipping.Append)) + skipping.Flush());
        var keeping = Tok.CreateStreamingDecoder(skipSpecialTokens: false);
        Assert.Equal("<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>", string.Concat(ids.Select(keeping.Append)) + keeping.Flush());
    }
}
