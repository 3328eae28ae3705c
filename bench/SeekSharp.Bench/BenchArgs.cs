namespace SeekSharp.Bench;

/// <summary>Minimal "--name value" parsing for the bench programs.</summary>
internal static class BenchArgs
{
    public static string? Get(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static int GetInt(string[] args, string name, int fallback) => Get(args, name) is { } s ? int.Parse(s) : fallback;
    public static bool Has(string[] args, string name) => Array.IndexOf(args, name) >= 0;
}
