using System.IO.Compression;
using System.Text;
using SeekSharp.Model;
using Xunit;

namespace SeekSharp.Tests.Model;

/// <summary>
/// The full 671B layout, listed without allocating a weight, against the approved listing in
/// Data/snapshots (gzip). After an intended change, regenerate it with SEEKSHARP_APPROVE=1 and review the diff.
/// </summary>
public class LayoutSnapshotTests
{
    private static string Listing(ModelConfig c)
    {
        var sb = new StringBuilder();
        foreach (var (name, dtype, shape) in CheckpointLayout.ReleaseLayout(c))
            sb.Append(name).Append('\t').Append(dtype).Append("\t[").Append(string.Join(", ", shape)).Append("]\n");
        return sb.ToString();
    }

    [Theory]
    [InlineData("deepseek-v3")]
    [InlineData("deepseek-v2-lite")]
    public void LayoutMatchesTheApprovedListing(string preset)
    {
        var actual = Listing(Presets.Get(preset));
        var approvedPath = Path.Combine(TestUtil.DataDir, "snapshots", preset + ".layout.txt.gz");
        if (Environment.GetEnvironmentVariable("SEEKSHARP_APPROVE") == "1")
        {
            var source = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../Data/snapshots", preset + ".layout.txt.gz"));
            Directory.CreateDirectory(Path.GetDirectoryName(source)!);
            using var file = File.Create(source);
            using var gz = new GZipStream(file, CompressionLevel.SmallestSize);
            gz.Write(Encoding.UTF8.GetBytes(actual));
            return;
        }
        Assert.True(File.Exists(approvedPath), $"No approved listing at {approvedPath}.");
        string approved;
        using (var gz = new GZipStream(File.OpenRead(approvedPath), CompressionMode.Decompress))
        using (var reader = new StreamReader(gz)) approved = reader.ReadToEnd();
        var a = actual.Split('\n');
        var b = approved.Split('\n');
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            Assert.True(a[i] == b[i], $"line {i + 1}: got '{a[i]}', approved '{b[i]}'");
        Assert.Equal(b.Length, a.Length);
    }

    [Fact]
    public void V3ListingHasTheRealCheckpointsTensorCountAndScaleShapes()
    {
        var rows = CheckpointLayout.ReleaseLayout(Presets.Get("deepseek-v3")).ToDictionary(r => r.Name);
        Assert.Equal(91_991, rows.Count);
        long[] Shape(string n) => rows[n].Shape;
        Assert.Equal([12L, 56], Shape("model.layers.5.self_attn.q_a_proj.weight_scale_inv"));
        Assert.Equal([192L, 12], Shape("model.layers.5.self_attn.q_b_proj.weight_scale_inv"));
        Assert.Equal([5L, 56], Shape("model.layers.5.self_attn.kv_a_proj_with_mqa.weight_scale_inv"));
        Assert.Equal([256L, 4], Shape("model.layers.5.self_attn.kv_b_proj.weight_scale_inv"));
        Assert.Equal([56L, 128], Shape("model.layers.5.self_attn.o_proj.weight_scale_inv"));
        Assert.Equal([144L, 56], Shape("model.layers.0.mlp.gate_proj.weight_scale_inv"));
        Assert.Equal([56L, 144], Shape("model.layers.0.mlp.down_proj.weight_scale_inv"));
        Assert.Equal([16L, 56], Shape("model.layers.60.mlp.experts.255.up_proj.weight_scale_inv"));
        Assert.Equal([56L, 16], Shape("model.layers.61.mlp.shared_experts.down_proj.weight_scale_inv"));
        Assert.Equal([7168L, 14336], Shape("model.layers.61.eh_proj.weight"));
        Assert.Equal("BF16", rows["model.layers.61.eh_proj.weight"].DType);
        Assert.Equal("F32", rows["model.layers.3.mlp.gate.e_score_correction_bias"].DType);
        Assert.Equal("BF16", rows["model.layers.3.mlp.gate.weight"].DType);
        Assert.Equal([129280L, 7168], Shape("model.layers.61.shared_head.head.weight"));
        Assert.False(rows.ContainsKey("model.layers.2.mlp.gate.weight"));   // dense layers 0..2
    }
}
