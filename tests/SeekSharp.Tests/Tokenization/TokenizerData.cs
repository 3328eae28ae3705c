using System.Text.Json;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

/// <summary>The test data under Data/tokenizer, loaded once per test run.</summary>
internal static class TokenizerData
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Data", "tokenizer");

    public static string DeepSeekV3Folder => Path.Combine(Folder, "deepseek-v3");

    private static readonly Lazy<Tokenizer> s_deepSeek = new(() => Tokenizer.Load(DeepSeekV3Folder));
    public static Tokenizer DeepSeekV3 => s_deepSeek.Value;

    private static readonly Lazy<JsonElement> s_cases = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "cases.json"))).RootElement.Clone());

    public static IEnumerable<(string Text, int[] Ids)> EncodeCases(string file = "cases.json")
    {
        var root = file == "cases.json" ? s_cases.Value : JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, file))).RootElement;
        foreach (var c in root.GetProperty("encode").EnumerateArray())
            yield return (c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    public static IEnumerable<JsonElement> ChatCases() => s_cases.Value.GetProperty("chat").EnumerateArray();

    /// <summary>A fresh empty folder under the temp directory.</summary>
    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "seeksharp-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
