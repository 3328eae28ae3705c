using SeekSharp.Model;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Model;

public class AccountingTests(ITestOutputHelper output)
{
    [Fact]
    public void DeepSeekV3CountsMatchTheReport()
    {
        var a = ModelAccounting.For(Presets.Get("deepseek-v3"));
        output.WriteLine($"main {a.MainParameters} activated {a.ActivatedParameters} ({a.ActivatedParametersExcludingEmbedding}) mtp {a.MtpUniqueParameters} ckpt {a.CheckpointParameters} tensors {a.TensorCount}");
        Assert.InRange(a.MainParameters / 1e9, 670.95, 671.05);          // docs/architecture.md §1.2: 671.03B
        Assert.InRange(a.ActivatedParameters / 1e9, 36.5, 38.0);         // "37B activated"
        Assert.InRange(a.MtpUniqueParameters / 1e9, 11.55, 11.65);       // 11.61B
        Assert.InRange(a.CheckpointParameters / 1e9, 684.0, 685.0);      // "685B" on the hub
        Assert.Equal(576, a.LatentCacheValuesPerTokenPerLayer);
        Assert.Equal(70_272, a.LatentCacheBytesPerToken(2));             // docs/architecture.md §19
        Assert.Equal(81_920 * 61, a.NaiveCacheBytesPerToken(2));
        Assert.Equal(91_991, a.Fp8TensorCount);                          // a header dump of the real checkpoint
        Assert.Equal(3, a.DenseLayers);
        Assert.Equal(58, a.MoeLayers);
    }
}
