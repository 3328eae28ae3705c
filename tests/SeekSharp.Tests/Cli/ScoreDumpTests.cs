using System.Text.Json;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Cli;

/// <summary><c>score --dump</c>: named intermediates written as files, checked against the golden case's own outputs.</summary>
public class ScoreDumpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-dump-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string TokensFile(GoldenCase g)
    {
        var path = Path.Combine(_tmp, "tokens.json");
        File.WriteAllText(path, JsonSerializer.Serialize(g.Tokens));
        return path;
    }

    private static int[] ReadI32(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new int[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
        return result;
    }

    private static int[] Shape(string dir, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, name + ".json")));
        Assert.Equal(name, doc.RootElement.GetProperty("name").GetString());
        return doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("incremental")]
    public void DumpsEqualTheGoldenOutputs(string decode)
    {
        var g = new GoldenCase("v3_yarn_f32");
        int t = g.Tokens.Length, d = 64;
        string dir = Path.Combine(_tmp, "dump"), logits = Path.Combine(_tmp, "logits.f32");
        var (code, _, stderr) = CliTestHost.Run("score", "--model", g.Dir, "--tokens-file", TokensFile(g), "--out", logits,
            "--dump", "logits", "--dump", "embed", "--dump", "layers.*.out", "--dump", "mtp.0.logits", "--dump", "layers.1.ffn.router.indices",
            "--dump-dir", dir, "--decode", decode, "--threads", "2");
        Assert.True(code == 0, stderr);

        Assert.Equal(File.ReadAllBytes(logits), File.ReadAllBytes(Path.Combine(dir, "logits.f32")));
        Assert.Equal([t, 512], Shape(dir, "logits"));
        var hidden = g.Raw("hidden_states.f32");                            // [layers + 1, T, d]: embedding, then each layer's output
        TestUtil.AssertClose(GoldenCase.ReadF32(Path.Combine(dir, "embed.f32")), hidden.AsSpan(0, t * d), 1e-6, "embed");
        for (int l = 0; l < 3; l++)
        {
            Assert.Equal([t, d], Shape(dir, $"layers.{l}.out"));
            TestUtil.AssertClose(GoldenCase.ReadF32(Path.Combine(dir, $"layers.{l}.out.f32")), hidden.AsSpan((l + 1) * t * d, t * d), 1e-5, $"layers.{l}.out");
        }
        Assert.Equal([t - 1, 512], Shape(dir, "mtp.0.logits"));
        TestUtil.AssertClose(GoldenCase.ReadF32(Path.Combine(dir, "mtp.0.logits.f32")), g.Raw("mtp_logits.f32"), 1e-5, "mtp.0.logits");

        // The wildcard took every main layer's output and nothing else.
        var written = Directory.GetFiles(dir, "*.f32").Select(f => Path.GetFileName(f)!).Order().ToArray();
        Assert.Equal(["embed.f32", "layers.0.out.f32", "layers.1.out.f32", "layers.2.out.f32", "logits.f32", "mtp.0.logits.f32"], written);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "layers.1.ffn.router.indices.json")));
        Assert.Equal("int32", json.RootElement.GetProperty("dtype").GetString());
        var indices = ReadI32(Path.Combine(dir, "layers.1.ffn.router.indices.i32"));
        var golden = g.Routing().Single(r => r.Layer == 1).Indices;
        for (int i = 0; i < t; i++) Assert.Equal(golden[i], indices.AsSpan(i * 4, 4).ToArray().Order().ToArray());
    }

    [Fact]
    public void DecodingTokenByTokenDumpsWhatTheBatchForwardDumps()
    {
        var g = new GoldenCase("v3_yarn_f32");
        string Run(string decode)
        {
            string dir = Path.Combine(_tmp, decode);
            var (code, _, stderr) = CliTestHost.Run("score", "--model", g.Dir, "--tokens-file", TokensFile(g), "--out", Path.Combine(_tmp, decode + ".f32"),
                "--dump", "*", "--dump-dir", dir, "--decode", decode, "--threads", "2");
            Assert.True(code == 0, stderr);
            return dir;
        }
        string batch = Run("batch"), incremental = Run("incremental");
        var names = Directory.GetFiles(batch, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)!).Order().ToArray();
        Assert.Equal(names, Directory.GetFiles(incremental, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)!).Order().ToArray());
        Assert.Contains("mtp.0.attn.q", names);
        foreach (var name in names)
        {
            Assert.Equal(Shape(batch, name), Shape(incremental, name));
            if (File.Exists(Path.Combine(batch, name + ".i32")))
                Assert.Equal(ReadI32(Path.Combine(batch, name + ".i32")), ReadI32(Path.Combine(incremental, name + ".i32")));
            else
                TestUtil.AssertClose(GoldenCase.ReadF32(Path.Combine(incremental, name + ".f32")), GoldenCase.ReadF32(Path.Combine(batch, name + ".f32")), 1e-5, name);
        }
    }

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void ListPrintsEveryNameWithItsShape(string name)
    {
        var g = new GoldenCase(name);
        var (code, stdout, stderr) = CliTestHost.Run("score", "--model", g.Dir, "--dump", "list");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        Assert.Equal("embed", lines[0][0]);
        Assert.Contains(lines, l => l[0] == "layers.0.attn.q" && string.Join(" ", l[1..]) == "[T, 4, 24] float32");
        Assert.Contains(lines, l => l[0] == "layers.1.ffn.router.indices" && l[^1] == "int32");
        Assert.Contains(lines, l => l[0] == "mtp.0.out" && l[1] == "[T-1,");
        Assert.Equal(name != "q_lora_null", lines.Any(l => l[0] == "layers.0.attn.cq"));
        Assert.DoesNotContain(lines, l => l[0] == "layers.0.ffn.router.scores");   // layer 0 is dense
    }

    [Fact]
    public void DumpErrorsAreOneLineUsageErrors()
    {
        var dir = new GoldenCase("v3_yarn_f32").Dir;
        string Out(string n) => Path.Combine(_tmp, n);
        void AssertUsage((int Code, string Out, string Err) r, string contains)
        {
            Assert.Equal(2, r.Code);
            Assert.Single(r.Err.Trim().Split('\n'), l => l.StartsWith("error:"));
            Assert.Contains(contains, r.Err);
        }
        AssertUsage(CliTestHost.Run("score", "--model", dir, "--tokens", "1,2", "--out", Out("a.f32"), "--dump", "layers.0.attn.qq", "--dump-dir", Out("d")), "'layers.0.attn.qq'");
        AssertUsage(CliTestHost.Run("score", "--model", dir, "--tokens", "1,2", "--out", Out("a.f32"), "--dump", "layers.*.mla", "--dump-dir", Out("d")), "'layers.*.mla'");
        AssertUsage(CliTestHost.Run("score", "--model", dir, "--tokens", "1,2", "--out", Out("a.f32"), "--dump", "embed"), "--dump-dir");
        AssertUsage(CliTestHost.Run("score", "--model", dir, "--tokens", "1,2"), "--out");
        AssertUsage(CliTestHost.Run("score", "--model", dir, "--tokens", "1", "--out", Out("a.f32"), "--dump", "mtp.0.out", "--dump-dir", Out("d")), "2 tokens");
        Assert.False(Directory.Exists(Out("d")));
        Assert.False(File.Exists(Out("a.f32")));

        // A wildcard over a single token leaves the MTP module out instead of failing.
        var one = CliTestHost.Run("score", "--model", dir, "--tokens", "1", "--out", Out("a.f32"), "--dump", "*", "--dump-dir", Out("d"));
        Assert.True(one.Code == 0, one.Err);
        Assert.True(File.Exists(Path.Combine(Out("d"), "layers.2.out.f32")));
        Assert.False(File.Exists(Path.Combine(Out("d"), "mtp.0.out.f32")));
    }
}
