using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using CsCheck;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Runs a reader over generated inputs and holds it to issue 13's rule: every input ends in a result or a typed error
/// (a <see cref="SeekSharpException"/>), within a time limit and an allocation limit. Anything else fails the test
/// with the input, shrunk by CsCheck where that is quick: an <see cref="IndexOutOfRangeException"/>, a leaked
/// <see cref="System.Text.Json.JsonException"/>, an <see cref="OverflowException"/>, an <see cref="OutOfMemoryException"/>, a
/// run past the time limit (a hang) or one that allocates past the memory limit.
/// </summary>
/// <remarks>
/// Budget: <see cref="Iterations"/> inputs per format, the CI default unless <c>SEEKSHARP_FUZZ_ITERATIONS</c> says otherwise
/// (docs/reliability.md). <c>SEEKSHARP_FUZZ_SEED</c> replays a CsCheck seed that a failure printed. Each run's count is
/// written to the test output and, when <c>SEEKSHARP_FUZZ_REPORT</c> names a file, appended to it as a line
/// "format inputs results typed-errors seconds".
/// </remarks>
internal static class FuzzRunner
{
    /// <summary>Per input: reading a few-kilobyte file takes milliseconds, so a second is a hang, not a slow machine.</summary>
    public static readonly TimeSpan DefaultTimeLimit = TimeSpan.FromSeconds(10);

    /// <summary>Per input: no reader needs more than this for a file of a few megabytes.</summary>
    public const long DefaultAllocationLimit = 512L << 20;

    public static int Iterations(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("SEEKSHARP_FUZZ_ITERATIONS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : ciDefault;

    /// <summary>What one format's run saw.</summary>
    public sealed record Report(string Format, int Inputs, int Results, int TypedErrors, double Seconds)
    {
        public override string ToString() =>
            $"fuzz {Format}: {Inputs} inputs, {Results} read, {TypedErrors} typed errors, {Seconds:F1} s";
    }

    /// <summary>
    /// Runs <paramref name="read"/> on <paramref name="iterations"/> inputs from <paramref name="gen"/>, one at a time on a
    /// worker thread of its own. <paramref name="read"/> returns normally (a result) or throws; it may also throw an
    /// <see cref="XunitException"/> itself for a wrong result (a server's 500).
    /// </summary>
    public static Report Run<T>(string format, Gen<T> gen, Action<T> read, int iterations, ITestOutputHelper? output = null,
        Func<T, string>? print = null, TimeSpan? timeLimit = null, long allocationLimit = DefaultAllocationLimit)
    {
        var limit = timeLimit ?? DefaultTimeLimit;
        int inputs = 0, results = 0, typed = 0;
        var typedKinds = new ConcurrentDictionary<string, int>();
        XunitException? hang = null;
        var watch = Stopwatch.StartNew();
        string? seed = Environment.GetEnvironmentVariable("SEEKSHARP_FUZZ_SEED");
        try
        {
            gen.Sample(input =>
            {
                // After a hang, later inputs (CsCheck shrinking) would each wait out the limit: report the first one instead.
                if (hang is not null) return;
                Interlocked.Increment(ref inputs);
                var outcome = RunOne(input, read, limit, allocationLimit);
                switch (outcome.Kind)
                {
                    case OutcomeKind.Result:
                        Interlocked.Increment(ref results);
                        return;
                    case OutcomeKind.Typed:
                        Interlocked.Increment(ref typed);
                        typedKinds.AddOrUpdate(outcome.Exception!.GetType().Name, 1, (_, n) => n + 1);
                        return;
                    case OutcomeKind.Hang:
                        hang = new XunitException($"fuzz {format}: no result after {limit.TotalSeconds} s (a hang) on input {Describe(input, print)}");
                        return;
                    default:
                        throw new XunitException($"fuzz {format}: {outcome.Problem} on input {Describe(input, print)}", outcome.Exception);
                }
            }, seed: string.IsNullOrEmpty(seed) ? null : seed, iter: iterations, threads: 1, print: print is null ? null : t => print(t));
        }
        finally
        {
            var report = new Report(format, inputs, results, typed, watch.Elapsed.TotalSeconds);
            output?.WriteLine(report.ToString());
            output?.WriteLine("  typed errors: " + string.Join(", ", typedKinds.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}")));
            if (Environment.GetEnvironmentVariable("SEEKSHARP_FUZZ_REPORT") is { Length: > 0 } file)
                File.AppendAllText(file, string.Create(CultureInfo.InvariantCulture, $"{format} {inputs} {results} {typed} {report.Seconds:F1}\n"));
        }
        if (hang is not null) throw hang;
        return new Report(format, inputs, results, typed, watch.Elapsed.TotalSeconds);
    }

    private enum OutcomeKind { Result, Typed, Hang, Failure }

    private sealed record Outcome(OutcomeKind Kind, Exception? Exception = null, string? Problem = null);

    private static Outcome RunOne<T>(T input, Action<T> read, TimeSpan limit, long allocationLimit)
    {
        Exception? thrown = null;
        long allocated = 0;
        var worker = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                read(input);
            }
            catch (Exception e)
            {
                thrown = e;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        })
        { IsBackground = true, Name = "fuzz input" };
        worker.Start();
        if (!worker.Join(limit)) return new Outcome(OutcomeKind.Hang);
        if (thrown is XunitException wrong) return new Outcome(OutcomeKind.Failure, wrong, wrong.Message);
        if (allocated > allocationLimit)
            return new Outcome(OutcomeKind.Failure, thrown, $"{allocated >> 20} MiB allocated, over the {allocationLimit >> 20} MiB limit");
        return thrown switch
        {
            null => new Outcome(OutcomeKind.Result),
            SeekSharpException => new Outcome(OutcomeKind.Typed, thrown),
            _ => new Outcome(OutcomeKind.Failure, thrown, $"untyped {thrown.GetType().FullName}: {thrown.Message}"),
        };
    }

    private static string Describe<T>(T input, Func<T, string>? print)
    {
        string text = print is null ? input?.ToString() ?? "null" : print(input);
        return text.Length > 4000 ? text[..4000] + "…" : text;
    }
}
