using System.Text;
using CsCheck;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>One generated input: a seed file of a corpus and the plan that mutates it.</summary>
internal sealed record MutatedFile(Corpus Corpus, int SeedIndex, Mutation[] Plan)
{
    private byte[]? _bytes;

    public string SeedName => Corpus.Seeds[SeedIndex].Name;

    public byte[] Bytes => _bytes ??= Corpus.Mutate(SeedIndex, Plan);

    public string Text => Encoding.UTF8.GetString(Bytes);

    /// <summary>The seed, the plan and the mutated bytes (as text where printable), enough to rebuild the input by hand.</summary>
    public override string ToString()
    {
        var bytes = Bytes;
        var shown = new StringBuilder();
        foreach (var b in bytes.AsSpan(0, Math.Min(bytes.Length, 600)))
            shown.Append(b is >= 0x20 and < 0x7F and not (byte)'\\' ? (char)b : $"\\x{b:X2}");
        return $"{SeedName} [{string.Join(", ", Plan)}] → {bytes.Length} bytes: {shown}{(bytes.Length > 600 ? "…" : "")}";
    }
}

/// <summary>
/// Seed files of one format (real files from the repository's test data, or files the test writes with the library's
/// own writers), the format's token dictionary, and whether JSON-aware edits apply.
/// </summary>
internal sealed class Corpus(string format, IReadOnlyList<(string Name, byte[] Bytes)> seeds, IReadOnlyList<string> tokens, bool json,
    Func<byte[], Mutation[], IReadOnlyList<byte[]>, IReadOnlyList<string>, byte[]>? mutate = null)
{
    private readonly byte[][] _all = seeds.Select(s => s.Bytes).ToArray();

    public string Format { get; } = format;
    public IReadOnlyList<(string Name, byte[] Bytes)> Seeds { get; } = seeds;

    public byte[] Mutate(int seedIndex, Mutation[] plan) =>
        mutate is null ? Mutator.Apply(_all[seedIndex], plan, _all, tokens) : mutate(_all[seedIndex], plan, _all, tokens);

    /// <summary>A seed and a plan of 1–4 edits; a tenth of the inputs are the seeds themselves (they must read).</summary>
    public Gen<MutatedFile> Gen(int maxEdits = 4) =>
        CsCheck.Gen.Select(CsCheck.Gen.Int[0, Seeds.Count - 1], CsCheck.Gen.Int[0, 9], Mutator.Plan(json, maxEdits),
            (i, keep, plan) => new MutatedFile(this, i, keep == 0 ? [] : plan));

    public static (string Name, byte[] Bytes) File(string path) => (Path.GetFileName(Path.GetDirectoryName(path)) + "/" + Path.GetFileName(path), System.IO.File.ReadAllBytes(path));
}
