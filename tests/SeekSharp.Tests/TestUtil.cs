namespace SeekSharp.Tests;

internal static class TestUtil
{
    public static float[] RandomArray(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>max |a − b| / max |b|: the relative error measure of the golden cases.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"Length {actual.Length} vs {expected.Length}.");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what = "")
    {
        double rel = RelativeError(actual, expected);
        if (!(rel <= tolerance))
        {
            int worst = 0; double w = -1;
            for (int i = 0; i < actual.Length; i++)
            {
                double d = Math.Abs((double)actual[i] - expected[i]);
                if (d > w || double.IsNaN(d)) { w = d; worst = i; }
            }
            throw new Xunit.Sdk.XunitException(
                $"{what}: relative error {rel:E3} > {tolerance:E1}; worst at {worst}: {actual[worst]} vs {expected[worst]}; first values {Fmt(actual)} vs {Fmt(expected)}");
        }
    }

    private static string Fmt(ReadOnlySpan<float> s)
    {
        var n = Math.Min(6, s.Length);
        var parts = new string[n];
        for (int i = 0; i < n; i++) parts[i] = s[i].ToString("G6");
        return "[" + string.Join(", ", parts) + "]";
    }

    /// <summary>The folder holding the test data copied next to the test assembly.</summary>
    public static string DataDir => Path.Combine(AppContext.BaseDirectory, "Data");

    /// <summary>The checkout the tests run from: the first folder above the test assembly that holds SeekSharp.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "SeekSharp.sln"))) return dir.FullName;
            throw new InvalidOperationException($"The repository root (SeekSharp.sln) is not above the test assembly ({AppContext.BaseDirectory}).");
        }
    }

    /// <summary>The shipped default model, models/default of the checkout.</summary>
    public static string DefaultModelDir => Path.Combine(RepositoryRoot, "models", "default");

    /// <summary>Runs a setup script of tests/ with sh (10 minutes at most) and returns its exit code and output, for a failure message.</summary>
    public static string RunSetupScript(string script)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sh", [script]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10))) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        return $"exit {process.ExitCode}\n{stdout.Result}{stderr.Result}";
    }

    /// <summary>The first file called <paramref name="name"/> in a folder of $PATH, or null.</summary>
    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
