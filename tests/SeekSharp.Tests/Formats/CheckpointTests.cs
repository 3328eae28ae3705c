using System.Text.Json;
using SeekSharp.Formats;
using Xunit;

namespace SeekSharp.Tests.Formats;

public class CheckpointTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Folder_WithModelSafetensors_OpensThatFileOnly()
    {
        // The golden folders also hold grads.safetensors, which must not be mixed in.
        using var source = Checkpoint.Open(FormatsTestFiles.GoldenFolder());
        Assert.Equal(207, source.Tensors.Count);
        Assert.EndsWith("model.safetensors", source.Location);
        Assert.Equal(new long[] { 512, 64 }, source.Get("model.embed_tokens.weight").Shape);
    }

    [Fact]
    public void File_OpensThatFile()
    {
        var progress = new RecordingProgress();
        using var source = Checkpoint.Open(FormatsTestFiles.GoldenModel("q_lora_null"), progress);
        Assert.True(source.Tensors.ContainsKey("model.layers.0.self_attn.q_proj.weight"));
        Assert.Equal([(1, 1)], progress.Reports.Select(r => (r.FilesOpened, r.TotalFiles)));
    }

    [Fact]
    public void ShardedWrite_ReadsBackEqual_WithProgress()
    {
        using var golden = SafetensorsFile.Open(FormatsTestFiles.GoldenModel());
        var written = SafetensorsWriter.WriteSharded(_folder.Path, golden.Tensors.Keys.Select(n => TensorToWrite.CopyOf(golden, n)),
            maxShardBytes: 400_000, golden.Metadata);

        int shards = written.Count - 1;
        Assert.True(shards >= 5);
        Assert.EndsWith("model.safetensors.index.json", written[^1]);
        Assert.All(written.Take(shards), f => Assert.Matches($@"model-\d{{5}}-of-{shards:D5}\.safetensors$", f));
        Assert.All(written.Take(shards), f => Assert.True(new FileInfo(f).Length < 400_000 + 30_000, f)); // data + header

        var progress = new RecordingProgress();
        using var source = Checkpoint.Open(_folder.Path, progress);
        Assert.Equal(Enumerable.Range(1, shards).Select(i => (i, shards)), progress.Reports.Select(r => (r.FilesOpened, r.TotalFiles)));
        Assert.Equal(golden.Tensors.Keys.Order(), source.Tensors.Keys.Order());
        foreach (var name in golden.Tensors.Keys)
            Assert.True(golden.GetBytes(name).SequenceEqual(source.GetBytes(name)), name);
        Assert.Equal("pt", source.Metadata["format"]);
        Assert.Contains("-of-", source.Get("lm_head.weight").FilePath);

        using var index = JsonDocument.Parse(File.ReadAllText(written[^1]));
        Assert.Equal(golden.Tensors.Values.Sum(t => t.ByteLength), index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.Equal(207, index.RootElement.GetProperty("weight_map").EnumerateObject().Count());
    }

    [Fact]
    public void ShardedWrite_ThatFitsInOneFile_WritesModelSafetensorsAndRemovesTheOldShards()
    {
        var tensors = SafetensorsWriterTests.MixedTensors();
        SafetensorsWriter.WriteSharded(_folder.Path, tensors, maxShardBytes: 16);
        Assert.True(File.Exists(_folder.File("model.safetensors.index.json")));
        File.WriteAllText(_folder.File("notes.txt"), "kept");

        var written = SafetensorsWriter.WriteSharded(_folder.Path, tensors, maxShardBytes: 1 << 20);
        Assert.Equal([_folder.File("model.safetensors")], written);
        Assert.Equal(["model.safetensors", "notes.txt"], Directory.GetFiles(_folder.Path).Select(Path.GetFileName).Order());

        // And back: a sharded save removes the single file, which would otherwise shadow the index.
        SafetensorsWriter.WriteSharded(_folder.Path, tensors, maxShardBytes: 16);
        Assert.False(File.Exists(_folder.File("model.safetensors")));
        using var source = Checkpoint.Open(_folder.Path);
        Assert.Equal(5, source.Tensors.Count);
    }

    [Fact]
    public void IndexFile_CanBeOpenedDirectly()
    {
        SafetensorsWriter.WriteSharded(_folder.Path, SafetensorsWriterTests.MixedTensors(), maxShardBytes: 16);
        using var source = Checkpoint.Open(_folder.File("model.safetensors.index.json"));
        Assert.Equal(5, source.Tensors.Count);
        Assert.EndsWith("model.safetensors.index.json", source.Location);
    }

    [Fact]
    public void Folder_WithoutModelOrIndex_OpensEverySafetensorsFile()
    {
        SafetensorsWriter.Write(_folder.File("model0-mp2.safetensors"), [TensorToWrite.FromFloat32("a", TensorDType.F32, [1], new float[] { 1 })]);
        SafetensorsWriter.Write(_folder.File("model1-mp2.safetensors"), [TensorToWrite.FromFloat32("b", TensorDType.F32, [1], new float[] { 2 })]);
        using var source = Checkpoint.Open(_folder.Path);
        Assert.Equal(["a", "b"], source.Tensors.Keys);
        var value = new float[1];
        source.ReadFloat32("b", value);
        Assert.Equal(2f, value[0]);
        var error = Assert.Throws<MissingTensorException>(() => source.Get("c"));
        Assert.Contains(_folder.Path, error.Message);
    }

    [Fact]
    public void DuplicateTensorAcrossFiles_IsAnError()
    {
        SafetensorsWriter.Write(_folder.File("x.safetensors"), [TensorToWrite.FromFloat32("same", TensorDType.F32, [1], new float[] { 1 })]);
        SafetensorsWriter.Write(_folder.File("y.safetensors"), [TensorToWrite.FromFloat32("same", TensorDType.F32, [1], new float[] { 2 })]);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("'same'", error.Message);
        Assert.Contains("x.safetensors", error.Message);
        Assert.Contains("y.safetensors", error.Message);
    }

    [Fact]
    public void DuplicateTensorAcrossIndexedShards_IsAnError()
    {
        SafetensorsWriter.Write(_folder.File("s1.safetensors"), [TensorToWrite.FromFloat32("same", TensorDType.F32, [1], new float[] { 1 })]);
        SafetensorsWriter.Write(_folder.File("s2.safetensors"), [TensorToWrite.FromFloat32("same", TensorDType.F32, [1], new float[] { 2 }),
            TensorToWrite.FromFloat32("other", TensorDType.F32, [1], new float[] { 3 })]);
        WriteIndex("""{"same": "s1.safetensors", "other": "s2.safetensors"}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("'same'", error.Message);
        Assert.Contains("two shards", error.Message);
    }

    [Fact]
    public void Index_MalformedJson()
    {
        File.WriteAllText(_folder.File("model.safetensors.index.json"), """{"weight_map": {"a": """);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("model.safetensors.index.json", error.Message);
        Assert.Contains("JSON", error.Message);
    }

    [Fact]
    public void Index_WithoutWeightMap()
    {
        File.WriteAllText(_folder.File("model.safetensors.index.json"), """{"metadata": {"total_size": 4}}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("weight_map", error.Message);
    }

    [Fact]
    public void Index_WithNonStringShard()
    {
        WriteIndex("""{"a": 1}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("'a'", error.Message);
    }

    [Fact]
    public void Index_ListingATensorTwice()
    {
        SafetensorsWriter.Write(_folder.File("s1.safetensors"), [TensorToWrite.FromFloat32("a", TensorDType.F32, [1], new float[] { 1 })]);
        WriteIndex("""{"a": "s1.safetensors", "a": "s1.safetensors"}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("'a' twice", error.Message);
    }

    [Fact]
    public void Index_NamingAMissingShard()
    {
        SafetensorsWriter.Write(_folder.File("model-00001-of-00002.safetensors"), [TensorToWrite.FromFloat32("a", TensorDType.F32, [1], new float[] { 1 })]);
        WriteIndex("""{"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("model-00002-of-00002.safetensors", error.Message);
        Assert.Contains("'b'", error.Message);
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public void Index_PlacingATensorInAShardThatLacksIt()
    {
        SafetensorsWriter.Write(_folder.File("s1.safetensors"), [TensorToWrite.FromFloat32("a", TensorDType.F32, [1], new float[] { 1 })]);
        SafetensorsWriter.Write(_folder.File("s2.safetensors"), [TensorToWrite.FromFloat32("b", TensorDType.F32, [1], new float[] { 2 })]);
        WriteIndex("""{"a": "s1.safetensors", "b": "s1.safetensors"}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("'b'", error.Message);
        Assert.Contains("s1.safetensors", error.Message);
    }

    [Fact]
    public void Index_PointingOutsideItsFolder()
    {
        WriteIndex("""{"a": "../elsewhere.safetensors"}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("../elsewhere.safetensors", error.Message);
    }

    [Fact]
    public void Index_WithAnInvalidShard_NamesTheShard()
    {
        File.WriteAllBytes(_folder.File("s1.safetensors"), [1, 2, 3]);
        WriteIndex("""{"a": "s1.safetensors"}""");
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("s1.safetensors", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void EmptyFolder_IsAnError()
    {
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains(_folder.Path, error.Message);
    }

    [Fact]
    public void MissingPath_IsAnError()
    {
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.File("nothing-here")));
        Assert.Contains("nothing-here", error.Message);
    }

    [Fact]
    public void Cancellation_BeforeOpening()
    {
        SafetensorsWriter.WriteSharded(_folder.Path, SafetensorsWriterTests.MixedTensors(), maxShardBytes: 16);
        Assert.ThrowsAny<OperationCanceledException>(() => Checkpoint.Open(_folder.Path, cancellationToken: new CancellationToken(canceled: true)));
    }

    [Fact]
    public void Cancellation_BetweenShards_StopsAndReleasesWhatWasOpened()
    {
        SafetensorsWriter.WriteSharded(_folder.Path, SafetensorsWriterTests.MixedTensors(), maxShardBytes: 16);
        using var cancel = new CancellationTokenSource();
        var progress = new RecordingProgress(_ => cancel.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() => Checkpoint.Open(_folder.Path, progress, cancel.Token));
        Assert.Single(progress.Reports);
        // Opened shards were closed: the folder can be rewritten (and, on Windows, deleted).
        SafetensorsWriter.WriteSharded(_folder.Path, SafetensorsWriterTests.MixedTensors(), maxShardBytes: 1 << 20);
    }

    private void WriteIndex(string weightMapJson) =>
        File.WriteAllText(_folder.File("model.safetensors.index.json"), $$"""{"metadata": {"total_size": 0}, "weight_map": {{weightMapJson}}}""");

    /// <summary>Records reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
    private sealed class RecordingProgress(Action<CheckpointLoadProgress>? onReport = null) : IProgress<CheckpointLoadProgress>
    {
        public List<CheckpointLoadProgress> Reports { get; } = [];

        public void Report(CheckpointLoadProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }
}
