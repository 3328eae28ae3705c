namespace SeekSharp.Model;

/// <summary>
/// One intermediate a forward can report to an <see cref="IActivationSink"/>: its name, its shape after the first
/// (row) dimension, how many rows fewer than the T input tokens it has (the MTP module k has T − k − 1), and its type.
/// </summary>
public sealed record ActivationInfo(string Name, int[] RowShape, int FewerRows = 0, bool IsInt32 = false)
{
    /// <summary>The shape with T for the token count, e.g. "[T, 4, 24]" or "[T-1, 512]".</summary>
    public string ShapeText => $"[{(FewerRows == 0 ? "T" : $"T-{FewerRows}")}, {string.Join(", ", RowShape)}]";

    public string TypeName => IsInt32 ? "int32" : "float32";
}

/// <summary>
/// The names of a forward's intermediates (docs/architecture.md §23): a scope per place, e.g. "layers.3." for decoder
/// layer 3, "mtp.0." for MTP module 0 (its block uses the same names as a layer), "" for the model, plus "attn." and
/// "ffn." / "ffn.router." inside a layer, then a short name ("q", "out"). Modules build their scope once, when
/// constructed, and a forward passes scope and name separately, so nothing is built when no sink listens.
/// </summary>
public static class ActivationNames
{
    public const string Attention = "attn.";
    public const string Ffn = "ffn.";
    public const string Router = "ffn.router.";

    /// <summary>The scope of decoder layer <paramref name="layer"/>: "layers.ℓ." for a main layer, "mtp.k." for the block of MTP module k.</summary>
    public static string Layer(ModelConfig config, int layer) =>
        layer < config.NumHiddenLayers ? $"layers.{layer}." : $"mtp.{layer - config.NumHiddenLayers}.";

    /// <summary>The scope of the layer whose checkpoint prefix is <paramref name="checkpointPrefix"/> ("model.layers.3." → "layers.3.").</summary>
    internal static string LayerOf(ModelConfig config, string checkpointPrefix)
    {
        for (int l = 0; l < config.NumHiddenLayers + config.MtpDepth; l++)
            if (CheckpointLayout.LayerPrefix(l) == checkpointPrefix) return Layer(config, l);
        return checkpointPrefix;
    }

    /// <summary>Every intermediate a forward of <paramref name="model"/> can report, in the order a forward reports them (the MTP modules' only when they run).</summary>
    public static IReadOnlyList<ActivationInfo> For(DeepSeekModel model)
    {
        var c = model.Config;
        int d = c.HiddenSize;
        var list = new List<ActivationInfo> { new("embed", [d]) };
        foreach (var layer in model.Layers) AddLayer(list, c, layer, 0);
        list.Add(new("norm", [d]));
        list.Add(new("logits", [c.VocabSize]));
        foreach (var m in model.Mtp)
        {
            string scope = Layer(c, c.NumHiddenLayers + m.Depth);
            int fewer = m.Depth + 1;
            list.Add(new(scope + "embed", [d], fewer));
            list.Add(new(scope + "concat", [2 * d], fewer));
            list.Add(new(scope + "proj", [d], fewer));
            AddLayer(list, c, m.Layer, fewer);
            list.Add(new(scope + "norm", [d], fewer));
            list.Add(new(scope + "logits", [m.Head.Rows], fewer));
        }
        return list;
    }

    private static void AddLayer(List<ActivationInfo> list, ModelConfig c, DecoderLayer layer, int fewer)
    {
        string scope = Layer(c, layer.Index), attn = scope + Attention;
        int d = c.HiddenSize;
        list.Add(new(scope + "input_norm", [d], fewer));
        if (c.HasQLora) list.Add(new(attn + "cq", [c.QLoraRank!.Value], fewer));
        list.Add(new(attn + "q", [c.NumAttentionHeads, c.QkHeadDim], fewer));
        list.Add(new(attn + "c", [c.KvLoraRank], fewer));
        list.Add(new(attn + "kr", [c.QkRopeHeadDim], fewer));
        list.Add(new(attn + "o", [c.NumAttentionHeads, c.VHeadDim], fewer));
        list.Add(new(attn + "out", [d], fewer));
        list.Add(new(scope + "residual", [d], fewer));
        list.Add(new(scope + "post_attention_norm", [d], fewer));
        if (layer.Moe is { } moe)
        {
            string router = scope + Router;
            list.Add(new(router + "logits", [moe.Router.Experts], fewer));
            list.Add(new(router + "scores", [moe.Router.Experts], fewer));
            list.Add(new(router + "indices", [moe.Router.ExpertsPerToken], fewer, IsInt32: true));
            list.Add(new(router + "weights", [moe.Router.ExpertsPerToken], fewer));
            list.Add(new(scope + Ffn + "routed", [d], fewer));
        }
        list.Add(new(scope + Ffn + "out", [d], fewer));
        list.Add(new(scope + "out", [d], fewer));
    }

    /// <summary>
    /// Whether <paramref name="name"/> matches <paramref name="pattern"/>. Names are dot-separated parts; * stands for any
    /// run of characters within one part (<c>layers.*.out</c> is every main layer's output, not <c>layers.0.attn.out</c>),
    /// and a last part that is only * stands for one or more parts (<c>layers.3.*</c> is all of layer 3, <c>*</c> is everything).
    /// </summary>
    public static bool Matches(string pattern, string name)
    {
        var p = pattern.Split('.');
        var n = name.Split('.');
        bool subtree = p[^1] == "*";
        int fixedParts = subtree ? p.Length - 1 : p.Length;
        if (subtree ? n.Length <= fixedParts : n.Length != fixedParts) return false;
        for (int i = 0; i < fixedParts; i++)
            if (!MatchesPart(p[i], n[i])) return false;
        return true;
    }

    // Glob within one part: * is any run of characters.
    private static bool MatchesPart(string pattern, string part)
    {
        int p = 0, n = 0, star = -1, resume = 0;
        while (n < part.Length)
        {
            if (p < pattern.Length && pattern[p] == '*') { star = p++; resume = n; }
            else if (p < pattern.Length && pattern[p] == part[n]) { p++; n++; }
            else if (star >= 0) { p = star + 1; n = ++resume; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
