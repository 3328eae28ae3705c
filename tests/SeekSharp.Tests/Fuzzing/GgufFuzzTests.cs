using System.Buffers.Binary;
using System.Text;
using CsCheck;
using SeekSharp.Formats.Gguf;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tensors;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Mutated GGUF files (docs/reliability.md): exports of a tiny random model with its tokenizer at F32, Q8_0 and Q4_0,
/// and an F32 one without SeekSharp's config and tokenizer keys (so the config is rebuilt from the deepseek2 keys, as for
/// llama.cpp's files). Each is opened, its config read, its tokenizer loaded (encode, decode, chat template) and the
/// model loaded and run one forward; every step must give a result or a <see cref="SeekSharpException"/>.
/// </summary>
/// <remarks>
/// Edits are GGUF-aware (<see cref="GgufFields"/>): a header field (tensor and key/value counts, key and string lengths,
/// value types, array element types and counts, tensor n_dims, ne, ggml types and offsets, scalar values) set to an
/// interesting integer or nudged by −2..+2; JSON-aware edits to the embedded config.json, tokenizer.json or
/// tokenizer_config.json with their length prefixes and the data section's alignment rewritten; byte edits aimed at
/// the header (and truncation anywhere).
/// </remarks>
public sealed class GgufFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-fuzz-gguf-").FullName;
    private static readonly WorkerPool Pool = new(1);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const int FieldKind = 200;

    private static readonly string[] Tokens =
    [
        "GGUF", "deepseek2.", "general.architecture", "tokenizer.ggml.tokens", "seeksharp.config", "blk.0.attn_kv_a_mqa.weight",
        "token_embd.weight", "\0\0\0\0", "\xFF\xFF\xFF\xFF",
    ];

    [Fact]
    public void GgufFilesLoadOrFailTyped()
    {
        var corpus = new Corpus("GGUF", Seeds(), Tokens, json: false, Mutate);
        var plan = Gen.Select(Gen.Int[0, 9], Gen.UInt, Gen.UInt, (k, p, v) => new Mutation(k switch
        {
            < 5 => FieldKind,                     // half: a header field
            < 7 => 100 + (int)(v % Mutator.JsonKinds),   // a fifth: an embedded JSON document
            _ => (int)(p % Mutator.ByteKinds),    // the rest: bytes
        }, p, v)).Array[1, 4];
        var gen = Gen.Select(Gen.Int[0, corpus.Seeds.Count - 1], Gen.Int[0, 9], plan, (i, keep, edits) => new MutatedFile(corpus, i, keep == 0 ? [] : edits));
        string path = Path.Combine(_dir, "model.gguf");
        FuzzRunner.Run(corpus.Format, gen, input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            ReadLikeTheProgram(path);
        }, FuzzRunner.Iterations(300), output, print: f => f.ToString());
    }

    /// <summary>What <c>seeksharp generate --model file.gguf</c> does with a file: open, config, tokenizer, model, a forward.</summary>
    internal static void ReadLikeTheProgram(string path)
    {
        SeekSharpException? first = null;
        using (var file = GgufFile.Open(path))
        {
            try { _ = DeepSeek2Metadata.ReadConfig(file).ToJson(); }
            catch (SeekSharpException e) { first ??= e; }
            try
            {
                var tokenizer = GgufTokenizerMetadata.Load(file);
                var ids = tokenizer.Encode("Hello, world! Ünïcödé 12345", addBos: true);
                _ = tokenizer.Decode(ids);
                if (tokenizer.ConfigFile.ChatTemplate is not null) _ = tokenizer.EncodeChat([new ChatMessage("user", "hi")], addGenerationPrompt: true);
            }
            catch (SeekSharpException e) { first ??= e; }
        }
        try
        {
            using var model = ModelLoader.Load(path, new ModelLoadOptions { Pool = Pool });
            int[] tokens = [0, 1, Math.Min(2, model.Config.VocabSize - 1)];
            var state = model.CreateState();
            model.Forward(new ForwardContext(Pool), tokens, BatchLayout.Single(tokens.Length), state, new ForwardRequest());
        }
        catch (SeekSharpException e) { first ??= e; }
        if (first is not null) throw first;
    }

    /// <summary>A tiny random model (2 layers, 4 experts, MTP, 512 tokens) with the tiny tokenizer, exported at F32, Q8_0 and Q4_0, and an F32 file without SeekSharp's own keys.</summary>
    private List<(string Name, byte[] Bytes)> Seeds()
    {
        string folder = Path.Combine(_dir, "tiny");
        var config = ModelConfig.Load(Path.Combine(new GoldenCase("q_lora_null").Dir, "config.json")) with
        {
            HiddenSize = 32,
            IntermediateSize = 64,
            MoeIntermediateSize = 32,
            NumHiddenLayers = 2,
            NumAttentionHeads = 2,
            NumKeyValueHeads = 2,
            NRoutedExperts = 4,
            NumExpertsPerTok = 2,
            NGroup = 2,
            TopkGroup = 1,
            MaxPositionEmbeddings = 64,
        };
        using (var model = DeepSeekModel.Create(config))
        {
            int seed = 1;
            foreach (var p in model.Parameters)
                if (p.HasValues) TestUtil.RandomArray(p.Span.Length, seed++, 0.2f).CopyTo(p.Span);
            ModelSaver.Save(model, folder);
        }
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(TestUtil.DataDir, "tiny-tokenizer", f), Path.Combine(folder, f));
        var seeds = new List<(string, byte[])>();
        foreach (var type in new[] { GgufTensorType.F32, GgufTensorType.Q8_0, GgufTensorType.Q4_0 })
        {
            string path = Path.Combine(_dir, $"tiny-{type}.gguf");
            GgufExporter.Export(folder, path, type, mtp: type == GgufTensorType.F32);
            seeds.Add(($"tiny-{type}.gguf", File.ReadAllBytes(path)));
        }
        // Without seeksharp.*: the config comes from the deepseek2 keys, the tokenizer is a TokenizerException.
        string plain = Path.Combine(_dir, "tiny-plain.gguf");
        using (var f = GgufFile.Open(Path.Combine(_dir, "tiny-Q8_0.gguf")))
        {
            unsafe
            {
                var tensors = f.Tensors.Select(t =>
                {
                    var bytes = new ReadOnlySpan<byte>(f.Address(t), checked((int)t.ByteSize)).ToArray();
                    return new GgufTensorToWrite(t.Name, t.Type, t.Dims, s => s.Write(bytes));
                }).ToList();
                GgufWriter.Write(plain, f.Metadata.Where(m => !m.Key.StartsWith("seeksharp.", StringComparison.Ordinal)).ToList(), tensors);
            }
        }
        seeds.Add(("tiny-plain-Q8_0.gguf", File.ReadAllBytes(plain)));
        // The seeds read (the plain one all but its tokenizer).
        string check = Path.Combine(_dir, "check.gguf");
        foreach (var (name, bytes) in seeds)
        {
            File.WriteAllBytes(check, bytes);
            if (name.Contains("plain", StringComparison.Ordinal)) Assert.Throws<TokenizerException>(() => ReadLikeTheProgram(check));
            else ReadLikeTheProgram(check);
        }
        return seeds;
    }

    /// <summary>JSON edits to an embedded document first (lengths and alignment rewritten), then header fields, then bytes.</summary>
    private static byte[] Mutate(byte[] seed, Mutation[] plan, IReadOnlyList<byte[]> others, IReadOnlyList<string> tokens)
    {
        byte[] file = seed;
        foreach (var m in plan.Where(m => m.Kind is >= 100 and < FieldKind))
        {
            var fields = GgufFields.Walk(file);
            var documents = fields.Strings.Where(s => s.Key is DeepSeek2Metadata.ConfigKey or GgufTokenizerMetadata.JsonKey or GgufTokenizerMetadata.ConfigJsonKey).ToList();
            if (documents.Count == 0 || fields.HeaderEnd is not { } end) break;
            var doc = documents[(int)(m.Position % (uint)documents.Count)];
            var json = file.AsSpan(doc.Start, doc.Length).ToArray();
            var edited = Mutator.Apply(json, [m with { Position = m.Value, Value = m.Position }], [], Mutator.JsonTokens);
            file = GgufFields.ReplaceString(file, doc, edited, end, fields.Alignment);
        }
        foreach (var m in plan.Where(m => m.Kind == FieldKind))
        {
            var fields = GgufFields.Walk(file).Numbers;
            if (fields.Count == 0) break;
            var field = fields[(int)(m.Position % (uint)fields.Count)];
            ulong old = field.Width switch
            {
                1 => file[field.Offset],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(field.Offset)),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(field.Offset)),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(field.Offset)),
            };
            ulong value = m.Value % 3 == 0
                ? (ulong)Mutator.InterestingIntegers[(m.Value >> 2) % (uint)Mutator.InterestingIntegers.Length]
                : old + (ulong)((long)((m.Value >> 2) % 5) - 2);
            file = (byte[])file.Clone();
            var bytes = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
            bytes.AsSpan(0, field.Width).CopyTo(file.AsSpan(field.Offset));
        }
        var bytePlan = plan.Where(m => m.Kind < 100).ToArray();
        if (bytePlan.Length == 0) return file;
        int header = GgufFields.Walk(file).HeaderEnd ?? file.Length;
        // Truncation anywhere (a partial download); other byte edits in the header, where a reader can go wrong.
        return Mutator.Apply(file, bytePlan, others.Select(o => o.AsSpan(0, Math.Min(o.Length, 4096)).ToArray()).ToList(), tokens,
            focus: bytePlan.All(m => m.Kind % Mutator.ByteKinds == 4) ? null : header);
    }
}
