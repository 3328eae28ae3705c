using SeekSharp.Formats;
using Xunit;

namespace SeekSharp.Tests.Formats;

/// <summary>
/// Every malformed file is a <see cref="CheckpointException"/> whose message names the file and the problem; none
/// crashes, hangs or allocates what the header claims. Each case crafts its bytes by hand.
/// </summary>
public class SafetensorsValidationTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private CheckpointException OpenFails(byte[] bytes, params string[] expectedInMessage)
    {
        string path = _folder.Write("bad.safetensors", bytes);
        var error = Assert.ThrowsAny<CheckpointException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, error.Message);
        foreach (var text in expectedInMessage) Assert.Contains(text, error.Message);
        return error;
    }

    private CheckpointException HeaderFails(string header, int dataBytes, params string[] expectedInMessage) =>
        OpenFails(FormatsTestFiles.Craft(header, dataBytes), expectedInMessage);

    [Fact]
    public void ValidFile_Opens() // the baseline every case below breaks in one way
    {
        string path = _folder.Write("good.safetensors",
            FormatsTestFiles.Craft("""{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"BF16","shape":[0,3],"data_offsets":[8,8]}}""", 8));
        using var source = SafetensorsFile.Open(path);
        Assert.Equal(2, source.Tensors.Count);
        Assert.Equal("v", source.Metadata["k"]);
        Assert.Equal(0, source.Get("e").ElementCount);
    }

    [Fact]
    public void FileShorterThan8Bytes() => OpenFails([1, 0, 0], "3 bytes", "truncated");

    [Fact]
    public void EmptyFile() => OpenFails([], "0 bytes");

    [Fact]
    public void HeaderLengthPastTheEndOfTheFile() =>
        OpenFails(FormatsTestFiles.Craft("{}", 0, declaredHeaderLength: 4096), "4096", "truncated");

    [Fact]
    public void HeaderLengthAbsurd() =>
        OpenFails(FormatsTestFiles.Craft("{}", 0, declaredHeaderLength: 1UL << 62), "limit");

    [Fact]
    public void MalformedJson() => HeaderFails("""{"a": {"dtype": "F32",""", 0, "malformed JSON");

    [Fact]
    public void HeaderIsNotAnObject() => HeaderFails("[1, 2]", 0, "not an object");

    [Fact]
    public void HeaderNotUtf8()
    {
        var bytes = FormatsTestFiles.Craft("""{"ab":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1);
        bytes[10] = 0xFF; // the 'a' and 'b' of the name become bytes that are not UTF-8
        bytes[11] = 0xFE;
        OpenFails(bytes, "UTF-8");
    }

    [Fact]
    public void EntryIsNotAnObject() => HeaderFails("""{"a": 3}""", 0, "'a'", "not an object");

    [Fact]
    public void EntryMissingDType() => HeaderFails("""{"a":{"shape":[2],"data_offsets":[0,8]}}""", 8, "'a'", "dtype");

    [Fact]
    public void EntryMissingShape() => HeaderFails("""{"a":{"dtype":"F32","data_offsets":[0,8]}}""", 8, "'a'", "shape");

    [Fact]
    public void EntryMissingDataOffsets() => HeaderFails("""{"a":{"dtype":"F32","shape":[2]}}""", 8, "'a'", "data_offsets");

    [Fact]
    public void DTypeOfWrongType() => HeaderFails("""{"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}""", 8, "'a'", "dtype");

    [Fact]
    public void ShapeOfWrongType() => HeaderFails("""{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}""", 8, "'a'", "shape");

    [Fact]
    public void ShapeWithStringDimension() => HeaderFails("""{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}""", 8, "'a'", "shape");

    [Fact]
    public void NegativeShape() => HeaderFails("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "'a'", "-2");

    [Fact]
    public void NonIntegerShape() => HeaderFails("""{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""", 8, "'a'", "2.5");

    [Fact]
    public void DataOffsetsWithOneNumber() => HeaderFails("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}""", 8, "'a'", "data_offsets");

    [Fact]
    public void DataOffsetsNegative() => HeaderFails("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""", 8, "'a'", "-8");

    [Fact]
    public void DataOffsetsPastTheEnd_TruncatedDataRegion() =>
        HeaderFails("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 12, "'a'", "truncated");

    [Fact]
    public void DataOffsetsBeginAfterEnd() => HeaderFails("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "'a'", "begin is after end");

    [Fact]
    public void ByteLengthNotElementsTimesDTypeSize() =>
        HeaderFails("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "'a'", "needs 12 bytes");

    [Fact]
    public void OverlappingTensors() =>
        HeaderFails("""{"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 12, "'a'", "'b'", "overlapping");

    [Fact]
    public void UnsupportedDType_NamesTensorAndDType() =>
        HeaderFails("""{"w":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[0,2]}}""", 2, "'w'", "F8_E5M2");

    [Fact]
    public void ShapeWhoseSizeOverflows_IsAnErrorNotAnOverflowException() =>
        HeaderFails("""{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}""", 8, "'a'", "64 bits");

    [Fact]
    public void ShapeWithDimensionBeyondInt64() =>
        HeaderFails("""{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}""", 8, "'a'", "99999999999999999999");

    [Fact]
    public void DuplicateTensorNameInHeader() =>
        HeaderFails("""{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2, "'a'", "twice");

    [Fact]
    public void MetadataWithNonStringValue() => HeaderFails("""{"__metadata__":{"step":3}}""", 0, "step", "strings");

    [Fact]
    public void MissingFile()
    {
        var error = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(_folder.File("absent.safetensors")));
        Assert.Contains("absent.safetensors", error.Message);
    }
}
