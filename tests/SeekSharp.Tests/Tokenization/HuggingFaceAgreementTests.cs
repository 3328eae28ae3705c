using System.Text.Json;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Tokenization;

/// <summary>Random texts whose ids come from Hugging Face's Rust library itself (see Data/tokenizer/README.md).</summary>
public class HuggingFaceAgreementTests
{
    [Fact]
    public void EveryRandomTextEncodesAsHuggingFaceDoes()
    {
        var tok = TokenizerData.DeepSeekV3;
        var failures = new List<string>();
        int count = 0;
        foreach (var (text, ids) in TokenizerData.EncodeCases("hf_random_cases.json"))
        {
            count++;
            var got = tok.Encode(text);
            if (!got.SequenceEqual(ids))
                failures.Add($"{JsonSerializer.Serialize(text)}\n  want {string.Join(",", ids)}\n  got  {string.Join(",", got)}");
            else if (tok.Decode(got) != text)
                failures.Add($"{JsonSerializer.Serialize(text)} does not decode back");
        }
        Assert.Equal(500, count);
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} differ:\n" + string.Join("\n", failures.Take(5)));
    }
}
