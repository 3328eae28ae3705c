using System.Buffers.Binary;
using System.Text;
using SeekSharp.Evaluation;
using SeekSharp.Formats;
using SeekSharp.Formats.Gguf;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using SeekSharp.Training.Data;
using Xunit;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// The smallest input of each failure the fuzzers found (docs/reliability.md lists them), each now a typed error
/// with a message that names what is wrong.
/// </summary>
public sealed class FuzzRegressionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Safetensors(string header)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        return file;
    }

    // ------------------------------------------------------------------ JSON strings escaping a lone surrogate

    // "\ud800" is valid JSON syntax but not valid UTF-16 once unescaped; System.Text.Json throws
    // InvalidOperationException (not JsonException) when such a name or value is read.
    private const string Lone = "\\ud800";

    [Fact]
    public void SafetensorsHeaderWithALoneSurrogateIsACheckpointError()
    {
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(Write("a.safetensors", Safetensors($"{{\"{Lone}\": {{\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}}}}"))));
        Assert.Contains("UTF-16", e.Message);
        Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(Write("b.safetensors", Safetensors($"{{\"__metadata__\": {{\"a\": \"{Lone}\"}}}}"))));
        Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(Write("c.safetensors", Safetensors($"{{\"t\": {{\"dtype\": \"{Lone}\", \"shape\": [0], \"data_offsets\": [0, 0]}}}}"))));
    }

    [Fact]
    public void IndexWithALoneSurrogateInATopLevelKeyIsACheckpointError()
    {
        // Found by a 30,000-input run: looking up "weight_map" unescapes the keys before it, and a bad one threw.
        Write("i0/model.safetensors.index.json", $"{{\"metadata\": \" \", \"weight_{Lone}map\": {{\"t0.weight\": \"model-1.safetensors\"}}}}");
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(Path.Combine(_dir, "i0")));
        Assert.Contains("UTF-16", e.Message);
    }

    [Fact]
    public void ALayerCountPastAnyModelIsAConfigError()
    {
        // Found by a 30,000-input run: num_nextn_predict_layers near 2^31 overflowed the layer loop in validation.
        var config = File.ReadAllText(Path.Combine(TestUtil.DataDir, "golden", "v3_yarn_f32", "config.json"));
        var node = System.Text.Json.Nodes.JsonNode.Parse(config)!;
        node["num_nextn_predict_layers"] = 2147483640;
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Load(Write("c/config.json", node.ToJsonString())));
        Assert.Contains("at most", e.Message);
    }

    [Fact]
    public void IndexWithALoneSurrogateIsACheckpointError()
    {
        Write("i1/model.safetensors.index.json", $"{{\"weight_map\": {{\"{Lone}\": \"model-1.safetensors\"}}}}");
        Assert.Throws<CheckpointException>(() => Checkpoint.Open(Path.Combine(_dir, "i1")));
        Write("i2/model.safetensors.index.json", $"{{\"weight_map\": {{\"t\": \"{Lone}\"}}}}");
        Assert.Throws<CheckpointException>(() => Checkpoint.Open(Path.Combine(_dir, "i2")));
    }

    [Fact]
    public void IndexWithANulInAShardNameIsACheckpointError()
    {
        Write("nul/model.safetensors.index.json", "{\"weight_map\": {\"t\": \"a\\u0000b\"}}");
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(Path.Combine(_dir, "nul")));
        Assert.Contains("'t'", e.Message);
    }

    [Fact]
    public void ConfigWithALoneSurrogateIsAConfigError()
    {
        Assert.Throws<ConfigException>(() => ModelConfig.Parse($"{{\"model_type\": \"{Lone}\"}}"));
        Assert.Throws<ConfigException>(() => ModelConfig.Parse($"{{\"{Lone}\": 1}}"));
    }

    [Fact]
    public void TokenizerFilesWithALoneSurrogateAreTokenizerErrors()
    {
        string tiny = Path.Combine(TestUtil.DataDir, "tiny-tokenizer");
        string json = File.ReadAllText(Path.Combine(tiny, "tokenizer.json"));
        string config = File.ReadAllText(Path.Combine(tiny, "tokenizer_config.json"));
        Write("t1/tokenizer.json", json.Replace("\"vocab\": {", $"\"vocab\": {{\"{Lone}\": 100000,", StringComparison.Ordinal));
        Assert.Throws<TokenizerException>(() => Tokenizer.Load(Path.Combine(_dir, "t1")));
        Write("t2/tokenizer.json", json);
        Write("t2/tokenizer_config.json", $"{{\"bos_token\": \"{Lone}\"}}");
        Assert.Throws<TokenizerException>(() => Tokenizer.Load(Path.Combine(_dir, "t2")));
        Write("t3/tokenizer.json", json);
        Write("t3/tokenizer_config.json", config.Replace("\"chat_template\": \"", $"\"chat_template\": \"{Lone}", StringComparison.Ordinal));
        Assert.Throws<TokenizerException>(() => Tokenizer.Load(Path.Combine(_dir, "t3")));
    }

    [Fact]
    public void TrainingRowsWithALoneSurrogateAreInvalidInput()
    {
        var e = Assert.Throws<InvalidInputException>(() => DatasetLoader.ReadRows(Write("rows.json", $"{{\"to{Lone}kens\": [[1, 2]]}}")));
        Assert.Contains("rows.json", e.Message);
    }

    [Fact]
    public void JsonlWithALoneSurrogateIsInvalidInput()
    {
        var e = Assert.Throws<InvalidInputException>(() => QaItem.ReadJsonl(Write("qa.jsonl", $"{{\"messages\": [{{\"role\": \"user\", \"content\": \"{Lone}\"}}], \"references\": [\"a\"]}}")));
        Assert.Contains("qa.jsonl:1", e.Message);
    }

    // ------------------------------------------------------------------ chat templates

    public static TheoryData<string, string> RunawayTemplates => new()
    {
        { "{% macro f(a) %}{{ f(a) }}{% endmacro %}{{ f(1) }}", "nests more than" },
        { "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}", "too much work" },
        { "{{ 'ab' * 2147483647 }}", "over the limit" },
        { "{{ [1, 2] * 4294967297 }}", "over the limit" },
        { "{% set s = 'ab' %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s }}", "too much work" },
        { "{{ 'a' | indent(2147483647, true) }}", "indent's width" },
        { "{{ messages | tojson(indent=100000000) }}", "tojson's indent" },
        { "{{ " + new string('(', 100_000) + "1" + new string(')', 100_000) + " }}", "nests too deeply" },
        { "{{ 1" + string.Concat(Enumerable.Repeat(" + 1", 200_000)) + " }}", "nests too deeply" },
        { "{{ x[-9223372036854775809] }}", "does not fit in 64 bits" },
        { "{{ '\\uZZZZ' }}", "not a hexadecimal escape" },
        { "{% set ns = namespace(a=1, a=2) %}", "given twice" },   // found by a 3,000-input run: ArgumentException
    };

    [Theory]
    [MemberData(nameof(RunawayTemplates))]
    public void RunawayTemplatesAreTokenizerErrors(string source, string expected)
    {
        var template = new ChatTemplate(source, "<s>", "</s>");
        var e = Assert.Throws<TokenizerException>(() => template.Render(TokenizerFuzzTests.Conversation, addGenerationPrompt: true));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TheBoundsLeaveRoomForLongConversations()
    {
        var messages = Enumerable.Range(0, 1000)
            .Select(i => new ChatMessage(i == 0 ? "system" : i % 2 == 1 ? "user" : "assistant", new string((char)('a' + i % 26), 1000)))
            .ToList();
        string text = ChatTemplate.DeepSeekV3.Render(messages, addGenerationPrompt: true);
        Assert.True(text.Length > 1_000_000);
    }

    [Fact]
    public void TheSmallestIntegerModuloMinusOneIsZero()
    {
        var template = new ChatTemplate("{{ (-9223372036854775807 - 1) % -1 }}", null, null);
        Assert.Equal("0", template.Render([], addGenerationPrompt: false));
    }

    [Fact]
    public void TokenizerConfigWithARepeatedKeyIsATokenizerError()
    {
        Write("dup/tokenizer.json", File.ReadAllBytes(Path.Combine(TestUtil.DataDir, "tiny-tokenizer", "tokenizer.json")));
        Write("dup/tokenizer_config.json", "{\"add_bos_token\": true, \"add_bos_token\": true}");
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(Path.Combine(_dir, "dup")));
        Assert.Contains("twice", e.Message);
    }

    // ------------------------------------------------------------------ training data

    [Fact]
    public void BinTokenPastInt32IsInvalidInput()
    {
        // Found by reading ReadBin beside the fuzzer: a version-2 id of 2^31 or more was an OverflowException.
        string path = Path.Combine(_dir, "wide.bin");
        DatasetLoader.WriteBin(path, [1, 70_000, 3]);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(1024 + 4), 0x8000_0000);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidInputException>(() => DatasetLoader.ReadBin(path));
        Assert.Contains("token 1", e.Message);
    }

    [Fact]
    public void AnEmptyMergeIsATokenizerError()
    {
        // Found by the long run: "" as a merge was an ArgumentOutOfRangeException from string.IndexOf.
        string json = File.ReadAllText(Path.Combine(TestUtil.DataDir, "tiny-tokenizer", "tokenizer.json"));
        int merges = json.IndexOf("\"merges\"", StringComparison.Ordinal);
        int open = json.IndexOf('[', merges);
        Write("m/tokenizer.json", json[..(open + 1)] + "\"\", " + json[(open + 1)..]);
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(Path.Combine(_dir, "m")));
        Assert.Contains("model.merges[0]", e.Message);
    }

    [Fact]
    public void AConfigNumberPastDoubleIsAConfigError()
    {
        // Found by the 3,000-input run: 1e309 read as infinity, passed validation, and saving the config then threw.
        string json = ModelConfig.Parse(File.ReadAllText(Path.Combine(new Golden.GoldenCase("v3_yarn_f32").Dir, "config.json"))).ToJson();
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Parse(json.Replace("\"rope_theta\": 10000", "\"rope_theta\": 1e309", StringComparison.Ordinal)));
        Assert.Contains("rope_theta", e.Message);
    }

    [Fact]
    public void TokenizerFilesThatAreNotUtf8AreTokenizerErrors()
    {
        // Found by a 3,000-input run: invalid UTF-8 in a pipeline section was an InvalidOperationException when read.
        var json = File.ReadAllBytes(Path.Combine(TestUtil.DataDir, "tiny-tokenizer", "tokenizer.json"));
        int at = Encoding.UTF8.GetString(json).IndexOf("\"pre_tokenizer\"", StringComparison.Ordinal) + 2;
        json[at] = 0xFF;
        Write("u/tokenizer.json", json);
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(Path.Combine(_dir, "u")));
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void AnAddedTokenIdOfIntMaxIsATokenizerError()
    {
        // Found by a 3,000-input run: id 2^31 - 1 made the vocabulary size overflow (IndexOutOfRangeException).
        string json = File.ReadAllText(Path.Combine(TestUtil.DataDir, "tiny-tokenizer", "tokenizer.json"));
        int at = json.IndexOf("\"id\": 0", StringComparison.Ordinal);
        Write("big/tokenizer.json", json[..at] + "\"id\": 2147483647" + json[(at + "\"id\": 0".Length)..]);
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(Path.Combine(_dir, "big")));
        Assert.Contains("added_tokens[0]", e.Message);
    }

    // ------------------------------------------------------------------ GGUF

    [Theory]
    [InlineData("{\"bos_token\": \"<s>\", \"bos_token\": \"<s>\"}", "names a key twice")]
    [InlineData("{\"bos_token\": \"\\ud800\"}", "UTF-16")]
    public void AGgufsTokenizerConfigIsReadAsAFileWouldBe(string config, string message)
    {
        // Found by the GGUF fuzzer: the tokenizer_config.json stored in a GGUF was parsed with JsonNode alone, so a key
        // written twice leaked ArgumentException (and an escaped lone surrogate InvalidOperationException).
        string path = Path.Combine(_dir, "t.gguf");
        GgufWriter.Write(path,
        [
            new("general.architecture", "deepseek2"),
            new(GgufTokenizerMetadata.JsonKey, File.ReadAllText(Path.Combine(TestUtil.DataDir, "tiny-tokenizer", "tokenizer.json"))),
            new(GgufTokenizerMetadata.ConfigJsonKey, config),
        ], []);
        var e = Assert.Throws<TokenizerException>(() => GgufTokenizerMetadata.Load(path));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AGgufBlockScaleThatIsNotFiniteIsACheckpointError()
    {
        // Found by the GGUF fuzzer (a tensor count one short moved every tensor's bytes): a Q8_0 block whose F16 scale is
        // NaN was an ArgumentException from QuantizedMatrix.View.
        string path = Path.Combine(_dir, "q8.gguf");
        GgufExporter.Export(new GoldenCase("q_lora_null").Dir, path, GgufTensorType.Q8_0, mtp: false);
        long at;
        string name;
        using (var f = GgufFile.Open(path))
        {
            var t = f.Tensors.First(t => t.Type == GgufTensorType.Q8_0);
            (at, name) = (f.DataStart + t.Offset + 34 * 3, t.Name);   // block 3's scale
        }
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)at), 0x7E00);   // F16 NaN
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(path));
        Assert.Contains(name, e.Message);
        Assert.Contains("is invalid", e.Message);
        Assert.Contains("not finite", e.Message);
    }

    [Theory]
    [InlineData("blk.0.attn_output.weight", true)]    // a matrix used in place
    [InlineData("blk.0.attn_norm.weight", false)]     // a norm, copied
    public void AGgufWeightHoldingANaNIsACheckpointError(string tensor, bool inPlace)
    {
        // GGUF weights were not checked for NaN or infinity on load (docs/reliability.md); now they are, as a folder's.
        string path = Path.Combine(_dir, "f32.gguf");
        GgufExporter.Export(new GoldenCase("q_lora_null").Dir, path, GgufTensorType.F32, mtp: false);
        long at;
        using (var f = GgufFile.Open(path)) at = f.DataStart + f.GetTensor(tensor).Offset + 4 * 5;
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)at), float.PositiveInfinity);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(path, new ModelLoadOptions { CheckFinite = true }));
        Assert.Contains(tensor, e.Message);
        Assert.Contains("element 5", e.Message);
        if (inPlace)
            using (var skipped = ModelLoader.Load(path, new ModelLoadOptions { CheckFinite = false })) Assert.NotNull(skipped);
    }

    [Theory]
    [InlineData("deepseek2.feed_forward_length", 4294967295u, "more than 2^31 - 1")]
    [InlineData("deepseek2.expert_feed_forward_length", 1_000_000u, "should have ne")]
    public unsafe void GgufSizesThatTheTensorsDoNotHaveAreCheckpointErrors(string key, uint value, string message)
    {
        // Found by the 10,000-input GGUF run: a file without seeksharp.config whose feed_forward_length was 2^32 - 1 (an
        // int of -1 once cast) passed validation, and allocating the model threw ArgumentOutOfRangeException ("a tensor of
        // 3200000000 elements"). Sizes past int's range are refused, and every tensor's shape is checked against the
        // metadata before anything is allocated.
        string exported = Path.Combine(_dir, "e.gguf"), path = Path.Combine(_dir, "plain.gguf");
        GgufExporter.Export(new GoldenCase("q_lora_null").Dir, exported, GgufTensorType.F32, mtp: false);
        using (var f = GgufFile.Open(exported))
        {
            var metadata = f.Metadata.Where(m => !m.Key.StartsWith("seeksharp.", StringComparison.Ordinal))
                .Select(m => m.Key == key ? new KeyValuePair<string, object>(key, value) : m).ToList();
            var tensors = f.Tensors.Select(t =>
            {
                var bytes = new ReadOnlySpan<byte>(f.Address(t), checked((int)t.ByteSize)).ToArray();
                return new GgufTensorToWrite(t.Name, t.Type, t.Dims, s => s.Write(bytes));
            }).ToList();
            GgufWriter.Write(path, metadata, tensors);
        }
        var e = Assert.Throws<CheckpointException>(() => ModelLoader.Load(path));
        Assert.Contains(message, e.Message);
    }
}
