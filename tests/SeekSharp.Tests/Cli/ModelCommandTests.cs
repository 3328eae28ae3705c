using System.Text.Json;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary>info, score and init through the command line, as a user types them.</summary>
public class ModelCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-cli-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void InfoReportsTheDeepSeekV3Counts()
    {
        var (code, stdout, _) = CliTestHost.Run("info", "--preset", "deepseek-v3", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var p = doc.RootElement.GetProperty("parameters");
        Assert.InRange(p.GetProperty("main").GetInt64() / 1e9, 670.9, 671.1);
        Assert.InRange(p.GetProperty("activated_per_token").GetInt64() / 1e9, 36.5, 38.0);
        Assert.InRange(p.GetProperty("mtp_unique").GetInt64() / 1e9, 11.5, 11.7);
        Assert.Equal(70272, doc.RootElement.GetProperty("kv_cache_bytes_per_token").GetProperty("latent_bf16").GetInt64());
        var text = CliTestHost.Run("info", "--model", new GoldenCase("q_lora_null").Dir);
        Assert.Equal(0, text.Code);
        Assert.Contains("no q LoRA", text.Out);
    }

    [Fact]
    public void InfoNeedsExactlyOneSource()
    {
        var (code, _, stderr) = CliTestHost.Run("info");
        Assert.Equal(2, code);
        Assert.Contains("exactly one of --model DIR or --preset NAME", stderr);
        var bad = CliTestHost.Run("info", "--preset", "gpt-5");
        Assert.Equal(1, bad.Code);
        Assert.Contains("Unknown preset 'gpt-5'", bad.Err);
    }

    public static IEnumerable<object[]> CasesAndModes() =>
        GoldenCase.Names.SelectMany(n => new[] { new object[] { n, "batch" }, new object[] { n, "incremental" } });

    [Theory]
    [MemberData(nameof(CasesAndModes))]
    public void ScoreReproducesTheGoldenCase(string name, string decode)
    {
        var g = new GoldenCase(name);
        var tokensFile = Path.Combine(_tmp, "tokens.json");
        File.WriteAllText(tokensFile, JsonSerializer.Serialize(g.Tokens));
        string Out(string n) => Path.Combine(_tmp, n);
        var (code, _, stderr) = CliTestHost.Run("score", "--model", g.Dir, "--tokens-file", tokensFile, "--out", Out("l.f32"),
            "--mtp-out", Out("m.f32"), "--hidden-out", Out("h.f32"), "--decode", decode, "--threads", "2");
        Assert.True(code == 0, stderr);
        TestUtil.AssertClose(GoldenCase.ReadF32(Out("l.f32")), g.Raw("logits.f32"), 1e-5, "logits");
        TestUtil.AssertClose(GoldenCase.ReadF32(Out("m.f32")), g.Raw("mtp_logits.f32"), 1e-5, "mtp");
        TestUtil.AssertClose(GoldenCase.ReadF32(Out("h.f32")), g.Raw("hidden_states.f32"), 1e-5, "hidden");
    }

    [Fact]
    public void ScoreErrorsAreOneLine()
    {
        var dir = new GoldenCase("v3_yarn_f32").Dir;
        var outOfVocab = CliTestHost.Run("score", "--model", dir, "--tokens", "1,2,512", "--out", Path.Combine(_tmp, "x.f32"));
        Assert.Equal(1, outOfVocab.Code);
        Assert.Contains("Token id 512", outOfVocab.Err);
        Assert.False(File.Exists(Path.Combine(_tmp, "x.f32")));
        var both = CliTestHost.Run("score", "--model", dir, "--tokens", "1", "--tokens-file", "f", "--out", "x");
        Assert.Equal(2, both.Code);
        var notANumber = CliTestHost.Run("score", "--model", dir, "--tokens", "1,x", "--out", "x");
        Assert.Equal(2, notANumber.Code);
        Assert.Contains("'x'", notANumber.Err);
        var missing = CliTestHost.Run("score", "--model", Path.Combine(_tmp, "none"), "--tokens", "1", "--out", "x");
        Assert.Equal(1, missing.Code);
        Assert.Single(missing.Err.Trim().Split('\n'));
    }

    [Fact]
    public void InitWritesALoadableCheckpoint()
    {
        var dir = Path.Combine(_tmp, "init");
        var (code, _, stderr) = CliTestHost.Run("init", "--config", Path.Combine(new GoldenCase("softmax_ngroup1").Dir, "config.json"), "--out", dir, "--seed", "3", "--dtype", "bf16");
        Assert.True(code == 0, stderr);
        var model = SeekSharp.Model.ModelLoader.Load(dir);
        Assert.Equal(SeekSharp.Tensors.Weights.WeightFormat.BF16, model.Embed.Format);
        var w = model.GetParameter("model.layers.1.mlp.experts.3.up_proj.weight").ToFloat32();
        double std = Math.Sqrt(w.Select(x => (double)x * x).Average());
        Assert.InRange(std, 0.0055, 0.0065);
        Assert.All(model.GetParameter("model.norm.weight").ToFloat32(), v => Assert.Equal(1f, v));
        var again = Path.Combine(_tmp, "again");
        CliTestHost.Run("init", "--config", Path.Combine(new GoldenCase("softmax_ngroup1").Dir, "config.json"), "--out", again, "--seed", "3", "--dtype", "bf16");
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "model.safetensors")), File.ReadAllBytes(Path.Combine(again, "model.safetensors")));
        var tooBig = CliTestHost.Run("init", "--preset", "deepseek-v3", "--out", Path.Combine(_tmp, "big"));
        Assert.Equal(2, tooBig.Code);
        Assert.Contains("GB free", tooBig.Err);
    }

    [Fact]
    public void InitStreamsTheSameWeightsAsAnInitialisedModel()
    {
        var config = SeekSharp.Model.ModelConfig.Load(Path.Combine(new GoldenCase("v3_yarn_f32").Dir, "config.json"));
        var model = SeekSharp.Model.DeepSeekModel.Create(config);
        SeekSharp.Model.ModelInitializer.Initialize(model, 5);
        var saved = Path.Combine(_tmp, "saved");
        SeekSharp.Model.ModelSaver.Save(model, saved);
        var streamed = Path.Combine(_tmp, "streamed");
        var (code, _, stderr) = CliTestHost.Run("init", "--config", Path.Combine(new GoldenCase("v3_yarn_f32").Dir, "config.json"), "--out", streamed, "--seed", "5");
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(saved, "model.safetensors")), File.ReadAllBytes(Path.Combine(streamed, "model.safetensors")));
    }

    [Theory]
    [InlineData("q8", SeekSharp.Tensors.Weights.WeightFormat.Q8_0)]
    [InlineData("q4", SeekSharp.Tensors.Weights.WeightFormat.Q4_0)]
    public void InitWritesBlockQuantisedCheckpointsThatLoadInPlace(string dtype, SeekSharp.Tensors.Weights.WeightFormat format)
    {
        var dir = Path.Combine(_tmp, dtype);
        var (code, _, stderr) = CliTestHost.Run("init", "--config", Path.Combine(new GoldenCase("v3_yarn_f32").Dir, "config.json"), "--out", dir, "--seed", "2", "--dtype", dtype, "--threads", "2");
        Assert.True(code == 0, stderr);
        using var model = SeekSharp.Model.ModelLoader.Load(dir);
        var up = model.GetParameter("model.layers.1.mlp.experts.3.up_proj.weight");
        Assert.Equal(format, up.Format);
        Assert.True(up.Weight.IsView);
        double std = Math.Sqrt(up.ToFloat32().Select(x => (double)x * x).Average());
        Assert.InRange(std, 0.0055, 0.0065);
        Assert.Equal(SeekSharp.Tensors.Weights.WeightFormat.BF16, model.GetParameter("model.layers.1.self_attn.kv_b_proj.weight").Format);
        Assert.All(model.GetParameter("model.norm.weight").ToFloat32(), v => Assert.Equal(1f, v));
        var again = Path.Combine(_tmp, dtype + "-again");
        CliTestHost.Run("init", "--config", Path.Combine(new GoldenCase("v3_yarn_f32").Dir, "config.json"), "--out", again, "--seed", "2", "--dtype", dtype, "--threads", "1");
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "model.safetensors")), File.ReadAllBytes(Path.Combine(again, "model.safetensors")));
        var score = CliTestHost.Run("score", "--model", dir, "--tokens", "1,2,3,4", "--out", Path.Combine(_tmp, dtype + ".f32"));
        Assert.True(score.Code == 0, score.Err);
    }
}
