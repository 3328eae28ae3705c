using System.Text.RegularExpressions;
using Xunit;

namespace SeekSharp.Tests.Architecture;

/// <summary>
/// The library's layers depend one way only: Tensors (the numeric core) on nothing of ours; Formats (files) on
/// Tensors; Model on both; Inference and Training on Model. Checked on the sources.
/// </summary>
public class LayeringTests
{
    public static TheoryData<string, string[]> Layers => new()
    {
        { "Tensors", ["Formats", "Model", "Inference", "Training", "Tokenization", "Evaluation", "Chat"] },
        { "Formats", ["Model", "Inference", "Training", "Tokenization", "Evaluation", "Chat"] },
        { "Model", ["Inference", "Training", "Evaluation", "Chat"] },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void ALayerUsesNoLayerAboveIt(string layer, string[] above)
    {
        string root = TestUtil.RepositoryRoot;
        var pattern = new Regex($@"\bSeekSharp\.({string.Join("|", above)})\b");
        var offenders = Directory.EnumerateFiles(Path.Combine(root, "src", "SeekSharp", layer), "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, line, i)))
            .Where(x => !x.line.TrimStart().StartsWith("//") && !x.line.TrimStart().StartsWith("///") && pattern.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(root, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0, $"{layer} uses a layer above it:\n{string.Join("\n", offenders)}");
    }
}
