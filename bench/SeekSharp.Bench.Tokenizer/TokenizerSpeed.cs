using System.Diagnostics;
using System.Text;
using Ours = SeekSharp.Tokenization.Tokenizer;
using Theirs = Tokenizers.DotNet.Tokenizer;

namespace SeekSharp.Bench.Tokenizer;

/// <summary>
/// Encode throughput of SeekSharp's tokenizer and Hugging Face's Rust tokenizers on the same documents
/// (<see cref="Corpus"/>), one thread each, with the agreement of their ids. Times are seconds per pass over all
/// documents: the first pass in the process (JIT and caches cold), a pass of a fresh instance (code warm, caches cold),
/// and <c>reps</c> warm passes of each side, interleaved so that load from other processes hits both alike.
/// </summary>
public sealed class TokenizerSpeed
{
    public required int Documents { get; init; }
    public required long Bytes { get; init; }
    public required long Chars { get; init; }
    public required int Tokens { get; init; }
    public required int Mismatches { get; init; }
    public required double OursLoadMs { get; init; }
    public required double TheirsLoadMs { get; init; }
    public required double OursFirst { get; init; }
    public required double TheirsFirst { get; init; }
    public required double OursFresh { get; init; }
    public required double TheirsFresh { get; init; }
    public required IReadOnlyList<double> OursWarm { get; init; }
    public required IReadOnlyList<double> TheirsWarm { get; init; }
    public required IReadOnlyList<double> CountWarm { get; init; }
    public required double OursParallel { get; init; }

    /// <summary>10^6 bytes of UTF-8 per second for a pass that took <paramref name="seconds"/>.</summary>
    public double MBps(double seconds) => Bytes / 1e6 / seconds;

    public static double Median(IReadOnlyList<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    public static TokenizerSpeed Measure(string repo, string tokenizerDir, double mb, int reps)
    {
        var load = Stopwatch.StartNew();
        var ours = Ours.Load(tokenizerDir);
        double oursLoad = load.Elapsed.TotalMilliseconds;
        load.Restart();
        using var theirs = new Theirs(Path.Combine(tokenizerDir, "tokenizer.json"));
        double theirsLoad = load.Elapsed.TotalMilliseconds;

        var docs = Corpus.Documents(repo, ours, (int)(mb * 1024 * 1024));
        double oursFirst = Time(() => { foreach (var d in docs) ours.Encode(d); });
        double theirsFirst = Time(() => { foreach (var d in docs) theirs.Encode(d); });
        var oursFresh = Ours.Load(tokenizerDir);
        using var theirsFresh = new Theirs(Path.Combine(tokenizerDir, "tokenizer.json"));
        double oursCold = Time(() => { foreach (var d in docs) oursFresh.Encode(d); });
        double theirsCold = Time(() => { foreach (var d in docs) theirsFresh.Encode(d); });
        int tokens = 0, mismatches = 0;
        foreach (var d in docs)
        {
            var a = ours.Encode(d);
            tokens += a.Length;
            if (!a.AsSpan().SequenceEqual(theirs.Encode(d).Select(x => (int)x).ToArray())) mismatches++;
        }
        var oursTimes = new List<double>();
        var theirsTimes = new List<double>();
        var countTimes = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            oursTimes.Add(Time(() => { foreach (var d in docs) ours.Encode(d); }));
            theirsTimes.Add(Time(() => { foreach (var d in docs) theirs.Encode(d); }));
            countTimes.Add(Time(() => { foreach (var d in docs) ours.CountTokens(d); }));
        }
        double parallel = Time(() => Parallel.ForEach(docs, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, d => ours.Encode(d)));
        return new TokenizerSpeed
        {
            Documents = docs.Count,
            Bytes = docs.Sum(d => (long)Encoding.UTF8.GetByteCount(d)),
            Chars = docs.Sum(d => (long)d.Length),
            Tokens = tokens,
            Mismatches = mismatches,
            OursLoadMs = oursLoad,
            TheirsLoadMs = theirsLoad,
            OursFirst = oursFirst,
            TheirsFirst = theirsFirst,
            OursFresh = oursCold,
            TheirsFresh = theirsCold,
            OursWarm = oursTimes,
            TheirsWarm = theirsTimes,
            CountWarm = countTimes,
            OursParallel = parallel,
        };
    }

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }
}
