using SeekSharp.Model;
using SeekSharp.Tests.Cli;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>The shipped default model (models/default): complete, in the DeepSeek-V3 family, within its size budget, and it answers.</summary>
[Collection("SEEKSHARP_MODEL")]   // GenerationCommandTests changes the variable; these read it
public class DefaultModelTests
{
    private static string Dir => TestUtil.DefaultModelDir;

    [Fact]
    public void TheShippedFolderIsAHuggingFaceModelOfAtMost40MB()
    {
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "README.md" })
            Assert.True(File.Exists(Path.Combine(Dir, f)), $"models/default/{f} is missing");
        long bytes = Directory.EnumerateFiles(Dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 40L * 1000 * 1000, $"models/default holds {bytes:N0} bytes");
        foreach (var plot in new[] { "plots/pretrain-loss.png", "plots/chat-loss.png", "plots/pretrain-expert-load-layer-1.png", "plots/pretrain-balance.png" })
            Assert.True(File.Exists(Path.Combine(Dir, plot)), $"models/default/{plot} is missing");
    }

    [Fact]
    public void ItIsADeepSeekV3FamilyModel()
    {
        var c = ModelConfig.Load(Path.Combine(Dir, "config.json"));
        Assert.Equal("deepseek_v3", c.ModelType);
        Assert.NotNull(c.QLoraRank);                               // MLA with a q LoRA
        Assert.True(c.NRoutedExperts >= 32);
        Assert.True(c.NumExpertsPerTok >= 4);
        Assert.True(c.NGroup > 1 && c.TopkGroup < c.NGroup);       // group-limited routing
        Assert.True(c.NSharedExperts >= 1);
        Assert.Equal(ScoringFunction.Sigmoid, c.ScoringFunc);
        Assert.True(c.HasExpertBias);                              // noaux_tc: bias-balanced expert choice
        Assert.Equal(1, c.NumNextnPredictLayers);
        var tok = Tokenizer.Load(Dir);
        Assert.Equal(c.VocabSize, tok.VocabSize);
        Assert.Equal(ChatTemplateKind.DeepSeekV3, tok.ChatTemplate!.Kind);
        var model = ModelLoader.Load(Dir);
        Assert.Equal("Q8_0", model.GetParameter("model.layers.1.mlp.experts.0.up_proj.weight").Storage);
    }

    [Fact]
    public void ChatWithoutAModelAnswersInEnglishWithTheDefaultModel()
    {
        var (code, stdout, stderr) = CliTestHost.RunWithInput("What does dog mean?\n/exit\n", "chat", "--temperature", "0", "--threads", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("models/default", stderr.Replace('\\', '/'));
        var reply = stdout.Split('\n')[0].TrimStart('>', ' ');
        // The trained answer shape, in English words: "As a noun, … means …." (models/default/README.md has its quality).
        Assert.Matches(@"^As an? (noun|verb|adjective|adverb), [\p{L} '-]+ means [\p{L}\p{P} ]+\.$", reply);
        Assert.Contains("finished: EndOfSequence", stderr);
    }
}
