using System.Text.Json;

namespace SeekSharp.Tests.Golden;

/// <summary>One folder of Data/golden: a tiny checkpoint and what DeepSeek's reference code computed for it.</summary>
internal sealed class GoldenCase
{
    public static readonly string[] Names = ["v3_yarn_f32", "q_lora_null", "softmax_ngroup1"];
    public static IEnumerable<object[]> All() => Names.Select(n => new object[] { n });

    public string Name { get; }
    public string Dir { get; }
    public int[] Tokens { get; }
    public JsonElement Golden { get; }

    public GoldenCase(string name)
    {
        Name = name;
        Dir = Path.Combine(TestUtil.DataDir, "golden", name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "golden.json")));
        Golden = doc.RootElement.Clone();
        Tokens = Golden.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    public float[] Raw(string file) => ReadF32(Path.Combine(Dir, file));

    public static float[] ReadF32(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
        return result;
    }

    /// <summary>Per MoE layer: (layer, [T][K] sorted expert indices, [T][K] weights in the same order).</summary>
    public IEnumerable<(int Layer, int[][] Indices, float[][] Weights)> Routing() =>
        Golden.GetProperty("routing").EnumerateArray().Select(r => (
            r.GetProperty("layer").GetInt32(),
            r.GetProperty("indices").EnumerateArray().Select(t => t.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray(),
            r.GetProperty("weights").EnumerateArray().Select(t => t.EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToArray()));
}
