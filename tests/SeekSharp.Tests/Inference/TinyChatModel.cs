using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Inference;

/// <summary>The golden v3 model (it has an MTP module) with a 500-token BPE trained on the docs, loaded once for the generation tests.</summary>
internal static class TinyChatModel
{
    public static readonly WorkerPool Pool = new(2);
    private static readonly Lazy<DeepSeekModel> s_model = new(() => ModelLoader.Load(new GoldenCase("v3_yarn_f32").Dir));
    private static readonly Lazy<Tokenizer> s_tokenizer = new(() => Tokenizer.Load(Path.Combine(TestUtil.DataDir, "tiny-tokenizer")));

    public static DeepSeekModel Model => s_model.Value;
    public static Tokenizer Tokenizer => s_tokenizer.Value;
}
