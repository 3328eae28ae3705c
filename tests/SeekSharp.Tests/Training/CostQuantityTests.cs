using SeekSharp.Training;
using Xunit;

namespace SeekSharp.Tests.Training;

[Collection(CostTests.Collection)]
public class CostQuantityTests
{
    [Theory]
    [InlineData("14.8T", 1.48e13)]
    [InlineData("14.8t", 1.48e13)]
    [InlineData("2.664M", 2_664_000)]
    [InlineData("180K", 180_000)]
    [InlineData("180k", 180_000)]
    [InlineData("1.5B", 1.5e9)]
    [InlineData("2G", 2e9)]
    [InlineData("125", 125)]
    [InlineData("1.48e13", 1.48e13)]
    [InlineData(" 2,664K ", 2_664_000)]
    [InlineData("1_000", 1_000)]
    [InlineData("-1T", -1e12)]
    [InlineData("0.5K", 500)]
    public void ParsesSuffixes(string text, double expected) => Assert.Equal(expected, Quantity.Parse(text, "--tokens"));

    [Theory]
    [InlineData("")]
    [InlineData("T")]
    [InlineData("abc")]
    [InlineData("14.8X")]
    [InlineData("1.2.3")]
    [InlineData("14.8TT")]
    public void RejectsWhatIsNotANumber(string text)
    {
        var e = Assert.Throws<InvalidInputException>(() => Quantity.Parse(text, "--tokens"));
        Assert.StartsWith("--tokens:", e.Message);
    }

    [Fact]
    public void RejectsOverflow() => Assert.Throws<InvalidInputException>(() => Quantity.Parse("1e28T", "--tokens"));
}
