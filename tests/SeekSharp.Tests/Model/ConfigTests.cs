using SeekSharp.Model;
using Xunit;

namespace SeekSharp.Tests.Model;

public class ConfigTests
{
    private static string Golden(string name) => File.ReadAllText(Path.Combine(TestUtil.DataDir, "golden", name, "config.json"));

    [Fact]
    public void GoldenConfigsMapEveryField()
    {
        var c = ModelConfig.Parse(Golden("v3_yarn_f32"));
        Assert.Equal(512, c.VocabSize);
        Assert.Equal(48, c.QLoraRank);
        Assert.True(c.HasQLora);
        Assert.Equal(ScoringFunction.Sigmoid, c.ScoringFunc);
        Assert.Equal(TopKMethod.NoAuxTc, c.TopkMethod);
        Assert.True(c.HasExpertBias);
        Assert.Equal(4, c.ExpertGroups);
        Assert.Equal(2, c.TopkGroup);
        Assert.Equal(4.0, c.RopeScaling!.Factor);
        Assert.Equal("yarn", c.RopeScaling.Kind);
        Assert.Equal(1, c.MtpDepth);
        Assert.False(c.IsMoeLayer(0));
        Assert.True(c.IsMoeLayer(1));
        Assert.True(c.IsMoeLayer(3));   // the MTP layer
        var lite = ModelConfig.Parse(Golden("q_lora_null"));
        Assert.Null(lite.QLoraRank);
        Assert.False(lite.HasQLora);
        var v2 = ModelConfig.Parse(Golden("softmax_ngroup1"));
        Assert.Equal(ScoringFunction.Softmax, v2.ScoringFunc);
        Assert.Equal(TopKMethod.Greedy, v2.TopkMethod);
        Assert.False(v2.HasExpertBias);
    }

    [Fact]
    public void PresetsLoadAndRoundTripThroughJson()
    {
        foreach (var name in Presets.Names)
        {
            var c = Presets.Get(name);
            var again = ModelConfig.Parse(c.ToJson());
            Assert.Equal(c.ToJson(), again.ToJson());
        }
        Assert.Contains("deepseek-v3", Presets.Names);
        Assert.Contains("deepseek-v2-lite", Presets.Names);
        var v3 = Presets.Get("deepseek-v3");
        Assert.Equal("fp8", v3.QuantizationConfig!.QuantMethod);
        Assert.Equal([128, 128], v3.QuantizationConfig.WeightBlockSize!);
        Assert.True(v3.Extra!.ContainsKey("use_cache"));   // unknown fields survive
    }

    [Theory]
    [InlineData("n_routed_experts", "15", "not divisible by n_group")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act 'gelu' is not supported")]
    [InlineData("scoring_func", "\"tanh\"", "scoring_func 'tanh'")]
    [InlineData("topk_method", "\"random\"", "topk_method 'random'")]
    [InlineData("topk_group", "5", "topk_group (5)")]
    [InlineData("num_experts_per_tok", "17", "exceeds n_routed_experts")]
    [InlineData("qk_rope_head_dim", "7", "qk_rope_head_dim must be even")]
    [InlineData("hidden_size", "0", "hidden_size must be positive")]
    [InlineData("num_experts_per_tok", "9", "exceeds the experts in the kept groups")]
    [InlineData("tie_word_embeddings", "true", "tie_word_embeddings")]
    [InlineData("hidden_size", "\"big\"", "not a valid config")]
    public void InconsistentOrUnsupportedValuesAreClearErrors(string field, string value, string message)
    {
        var json = System.Text.RegularExpressions.Regex.Replace(Golden("v3_yarn_f32"), $"\"{field}\": [^,\\n]+", $"\"{field}\": {value}");
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Parse(json, "test.json"));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("test.json", e.Message);
    }

    [Fact]
    public void UnknownRopeTypeAndMalformedJsonAreClearErrors()
    {
        var json = Golden("v3_yarn_f32").Replace("\"type\": \"yarn\"", "\"type\": \"longrope\"");
        Assert.Contains("rope_scaling type 'longrope'", Assert.Throws<ConfigException>(() => ModelConfig.Parse(json)).Message);
        Assert.Throws<ConfigException>(() => ModelConfig.Parse("{ \"vocab_size\": 5,"));
        Assert.Throws<ConfigException>(() => ModelConfig.Parse("null"));
        Assert.Contains("Unknown preset", Assert.Throws<ConfigException>(() => Presets.Get("nope")).Message);
    }
}
