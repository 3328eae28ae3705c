using System.Buffers.Binary;
using System.Text;
using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tests.Golden;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Mutated safetensors files, sharded indexes and config.json files: each opens, or fails with a
/// <see cref="CheckpointException"/> or <see cref="ConfigException"/>, never a raw exception or a hang
/// (docs/reliability.md). GGUF is not fuzzed here yet (see there).
/// </summary>
public sealed class CheckpointFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Tokens of a safetensors header: its keys, dtypes and punctuation.</summary>
    private static readonly string[] SafetensorsTokens =
    [
        .. Mutator.JsonTokens, "\"dtype\":", "\"shape\":", "\"data_offsets\":", "\"__metadata__\":", "\"F32\"", "\"F8_E4M3\"", "\"BF16\"",
        "\"I64\"", "[0,0]", "[]", "[0]", "[1,1]",
    ];

    [Fact]
    public void SafetensorsFilesOpenOrFailTyped()
    {
        var corpus = new Corpus("safetensors", SafetensorsSeeds(), SafetensorsTokens, json: true, MutateSafetensors);
        string path = Path.Combine(_dir, "model.safetensors");
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            using var source = SafetensorsFile.Open(path);
            ReadAll(source);
        }, FuzzRunner.Iterations(400), output);
    }

    [Fact]
    public void ShardedIndexesOpenOrFailTyped()
    {
        string folder = Path.Combine(_dir, "sharded");
        Directory.CreateDirectory(folder);
        var (names, shards) = WriteShards(folder);
        string index = Path.Combine(folder, SafetensorsIndex.FileName);
        var seed = File.ReadAllBytes(index);
        var otherNames = names.Select(n => Encoding.UTF8.GetBytes(n)).Concat(shards.Select(s => Encoding.UTF8.GetBytes(Path.GetFileName(s)))).ToArray();
        var corpus = new Corpus("safetensors index", [("sharded/" + SafetensorsIndex.FileName, seed), ("names", otherNames.SelectMany(b => b).ToArray())],
            [.. Mutator.JsonTokens, "\"weight_map\":", "\"../x.safetensors\"", "\"/etc/passwd\"", "\"\"", "\"model-00001-of-00002.safetensors\""], json: true);
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(index, input.Bytes);
            using var source = Checkpoint.Open(folder);
            ReadAll(source);
        }, FuzzRunner.Iterations(200), output);
    }

    [Fact]
    public void ConfigFilesLoadOrFailTyped()
    {
        var seeds = new[] { "v3_yarn_f32", "q_lora_null", "softmax_ngroup1" }
            .Select(c => Corpus.File(Path.Combine(new GoldenCase(c).Dir, "config.json")))
            .Concat(Presets.Names.Select(n => ($"preset/{n}.json", Encoding.UTF8.GetBytes(Presets.Get(n).ToJson()))))
            .ToList();
        var corpus = new Corpus("config.json", seeds,
            [.. Mutator.JsonTokens, "\"num_hidden_layers\":", "\"rope_scaling\":", "\"quantization_config\":", "\"n_routed_experts\":", "2147483647"], json: true);
        string path = Path.Combine(_dir, "config.json");
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            var config = ModelConfig.Load(path);
            _ = config.ToJson();
        }, FuzzRunner.Iterations(400), output);
    }

    /// <summary>Reads every tensor of a source the way loaders do, so that a header's claims are exercised, not just parsed.</summary>
    internal static void ReadAll(ITensorSource source)
    {
        foreach (var (name, info) in source.Tensors)
        {
            if (info.ByteLength > 1 << 24) continue;
            if (!info.DType.IsFloatingPoint())
            {
                _ = source.GetBytes(name).Length;
                continue;
            }
            var values = new float[info.ElementCount];
            if (info.DType == TensorDType.F8_E4M3 && source.Tensors.ContainsKey(name + "_scale_inv"))
                source.ReadWeightFloat32(name, values, 2, 2);
            else
                source.ReadFloat32(name, values);
        }
    }

    /// <summary>Small files of every dtype the reader knows (FP8 with its scales, integers, a scalar, an empty tensor) and the golden model.</summary>
    private List<(string Name, byte[] Bytes)> SafetensorsSeeds()
    {
        var seeds = new List<(string, byte[])>();
        string a = Path.Combine(_dir, "seed-a.safetensors");
        SafetensorsWriter.Write(a,
        [
            TensorToWrite.FromFloat32("w", TensorDType.F32, [4, 8], TestUtil.RandomArray(32, 1)),
            TensorToWrite.FromFloat32("b", TensorDType.BF16, [3], TestUtil.RandomArray(3, 2)),
            TensorToWrite.FromFloat32("h", TensorDType.F16, [2, 2], TestUtil.RandomArray(4, 3)),
            TensorToWrite.FromFloat32("d", TensorDType.F64, [], TestUtil.RandomArray(1, 4)),
            TensorToWrite.FromBytes("ids", TensorDType.I64, [2], new byte[16]),
            TensorToWrite.FromBytes("empty", TensorDType.F32, [0, 5], Array.Empty<byte>()),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        seeds.Add(("seed-a.safetensors", File.ReadAllBytes(a)));
        string b = Path.Combine(_dir, "seed-b.safetensors");
        SafetensorsWriter.Write(b,
        [
            TensorToWrite.FromBytes("x.weight", TensorDType.F8_E4M3, [3, 4], Enumerable.Range(0, 12).Select(i => (byte)(i * 9)).ToArray()),
            TensorToWrite.FromFloat32("x.weight_scale_inv", TensorDType.F32, [2, 2], new float[] { 1, 2, 0.5f, 4 }),
            TensorToWrite.FromBytes("mask", TensorDType.BOOL, [5], new byte[] { 0, 1, 0, 1, 1 }),
        ]);
        seeds.Add(("seed-b.safetensors", File.ReadAllBytes(b)));
        // The golden model's real names and layout, cut to its 24 smallest tensors so that an input stays a few kilobytes.
        string c = Path.Combine(_dir, "seed-golden.safetensors");
        using (var golden = SafetensorsFile.Open(Path.Combine(new GoldenCase("q_lora_null").Dir, "model.safetensors")))
            SafetensorsWriter.Write(c, golden.Tensors.Values.OrderBy(t => t.ByteLength).ThenBy(t => t.Name, StringComparer.Ordinal).Take(24)
                .Select(t => TensorToWrite.CopyOf(golden, t.Name)), golden.Metadata);
        seeds.Add(("golden-cut.safetensors", File.ReadAllBytes(c)));
        return seeds;
    }

    /// <summary>
    /// Safetensors-aware mutation: JSON edits go to the header, whose length prefix is then rewritten so the edit is
    /// seen by the JSON reader (not just by the length check); byte edits aim at the prefix and header (and a little
    /// data), where a reader can go wrong, rather than at tensor bytes.
    /// </summary>
    private static byte[] MutateSafetensors(byte[] seed, Mutation[] plan, IReadOnlyList<byte[]> others, IReadOnlyList<string> tokens)
    {
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(seed);
        var header = seed.AsSpan(8, headerLength).ToArray();
        var data = seed.AsSpan(8 + headerLength).ToArray();
        var jsonPlan = plan.Where(m => m.Kind >= 100).ToArray();
        var bytePlan = plan.Where(m => m.Kind < 100).ToArray();
        if (jsonPlan.Length > 0) header = Mutator.Apply(header, jsonPlan, [], tokens);
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return bytePlan.Length == 0 ? file : Mutator.Apply(file, bytePlan, others.Select(o => o.AsSpan(0, Math.Min(o.Length, 4096)).ToArray()).ToList(), tokens, focus: 8 + header.Length + 64);
    }

    private static (string[] Names, string[] Shards) WriteShards(string folder)
    {
        var tensors = Enumerable.Range(0, 6).Select(i => TensorToWrite.FromFloat32($"t{i}.weight", TensorDType.F32, [2, 3], TestUtil.RandomArray(6, i))).ToList();
        var shards = SafetensorsWriter.WriteSharded(folder, tensors, maxShardBytes: 72).ToArray();
        return (tensors.Select(t => t.Name).ToArray(), shards);
    }
}
