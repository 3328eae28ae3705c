using System.Text;
using System.Text.Json;
using SeekSharp.Tokenization;

namespace SeekSharp.Bench.Tokenizer;

/// <summary>
/// The benchmark text, made deterministically from files in the repository (no downloads):
/// <list type="bullet">
/// <item>every text of the reference cases (tests/SeekSharp.Tests/Data/tokenizer/cases.json), verbatim;</item>
/// <item>"prose": runs of DeepSeek-V3 vocabulary entries that begin with a space (real words and word pieces of many
///   languages), with punctuation, digits and line breaks between sentences;</item>
/// <item>CJK: runs of vocabulary entries made of CJK characters;</item>
/// <item>code: C-like and Python-like lines with identifiers drawn from the vocabulary;</item>
/// <item>noise: numbers, emoji (with ZWJ and skin tones), odd white space.</item>
/// </list>
/// The mix is drawn with a fixed-seed xorshift generator, so a given size always gives the same text.
/// </summary>
public static class Corpus
{
    public static string DataFolder(string repoRoot) => Path.Combine(repoRoot, "tests", "SeekSharp.Tests", "Data", "tokenizer");

    public static List<string> Documents(string repoRoot, SeekSharp.Tokenization.Tokenizer tok, int targetBytes, ulong seed = 42)
    {
        var rng = new XorShift(seed);
        var cases = CaseTexts(Path.Combine(DataFolder(repoRoot), "cases.json"));
        var (words, cjk) = VocabularyWords(tok);
        var docs = new List<string>();
        int bytes = 0;
        while (bytes < targetBytes)
        {
            var sb = new StringBuilder();
            int parts = 4 + rng.Next(12);
            for (int p = 0; p < parts; p++)
            {
                switch (rng.Next(10))
                {
                    case 0 or 1: sb.Append(cases[rng.Next(cases.Count)]); break;
                    case 2 or 3 or 4 or 5: Prose(sb, rng, words); break;
                    case 6: Cjk(sb, rng, cjk); break;
                    case 7 or 8: Code(sb, rng, words); break;
                    default: Noise(sb, rng); break;
                }
                sb.Append(rng.Next(3) == 0 ? "\n\n" : "\n");
            }
            string doc = sb.ToString();
            docs.Add(doc);
            bytes += Encoding.UTF8.GetByteCount(doc);
        }
        return docs;
    }

    private static List<string> CaseTexts(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var texts = doc.RootElement.GetProperty("encode").EnumerateArray().Select(c => c.GetProperty("text").GetString()!).ToList();
        texts.AddRange(doc.RootElement.GetProperty("chat").EnumerateArray().Select(c => c.GetProperty("rendered").GetString()!));
        return texts.Where(t => t.Length > 0).ToList();
    }

    // Vocabulary entries that decode to whole characters: " word"-like ones, and CJK ones.
    private static (List<string> Words, List<string> Cjk) VocabularyWords(SeekSharp.Tokenization.Tokenizer tok)
    {
        var words = new List<string>();
        var cjk = new List<string>();
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var added = tok.AddedTokens.Select(t => t.Id).ToHashSet();
        for (int id = 0; id < tok.VocabSize; id++)
        {
            if (added.Contains(id))
                continue;
            string text;
            try { text = strict.GetString(tok.TokenBytes(id)); }
            catch (DecoderFallbackException) { continue; }
            if (text.Length > 1 && text[0] == ' ' && text.Skip(1).All(char.IsLetter))
                words.Add(text);
            else if (text.Length > 0 && text.All(c => c >= 0x4E00 && c <= 0x9FFF))
                cjk.Add(text);
        }
        return (words, cjk);
    }

    private static void Prose(StringBuilder sb, XorShift rng, List<string> words)
    {
        int sentences = 1 + rng.Next(4);
        for (int s = 0; s < sentences; s++)
        {
            int n = 4 + rng.Next(14);
            for (int w = 0; w < n; w++)
            {
                string word = words[rng.Next(words.Count)];
                sb.Append(w == 0 && s == 0 ? word.TrimStart() : word);
                // Glue two entries into one longer, unseen word now and then: BPE must do real work on those.
                if (rng.Next(6) == 0)
                    sb.Append(words[rng.Next(words.Count)].TrimStart());
                if (rng.Next(12) == 0)
                    sb.Append(rng.Next(4) switch { 0 => ",", 1 => ";", 2 => $" {rng.Next(2025)}", _ => " (" + words[rng.Next(words.Count)].Trim() + ")" });
            }
            sb.Append(rng.Next(5) switch { 0 => "? ", 1 => "! ", _ => ". " });
        }
    }

    private static void Cjk(StringBuilder sb, XorShift rng, List<string> cjk)
    {
        int n = 3 + rng.Next(20);
        for (int i = 0; i < n; i++)
        {
            sb.Append(cjk[rng.Next(cjk.Count)]);
            if (rng.Next(6) == 0)
                sb.Append(rng.Next(3) switch { 0 => "，", 1 => "。", _ => "、" });
        }
    }

    private static void Code(StringBuilder sb, XorShift rng, List<string> words)
    {
        string Id() => words[rng.Next(words.Count)].Trim().ToLowerInvariant() + (rng.Next(3) == 0 ? "_" + words[rng.Next(words.Count)].Trim() : "");
        int lines = 2 + rng.Next(8);
        for (int i = 0; i < lines; i++)
        {
            string indent = new(' ', 4 * rng.Next(3));
            sb.Append(indent).Append(rng.Next(6) switch
            {
                0 => $"def {Id()}({Id()}, {Id()}={rng.Next(100)}):",
                1 => $"if ({Id()}.{Id()} >= {rng.Next(1000)} && !{Id()}) {{ return {Id()}[{rng.Next(10)}]; }}",
                2 => $"const {Id()} = {{ \"{Id()}\": [{rng.Next(9)}, {rng.Next(99)}], '{Id()}': null }};",
                3 => $"for i in range({rng.Next(100)}):\n{indent}    print(f\"{{{Id()}}}: {{i:>4}}\")",
                4 => $"// {Id()} {Id()} -> {Id()}()  # TODO",
                _ => $"{Id()} += {rng.Next(1000)}.{rng.Next(1000)} * {Id()}; /* {Id()} */",
            }).Append('\n');
        }
    }

    private static readonly string[] Emoji = ["🙂", "🚀", "🔥", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪", "❤️", "🦙", "😀", "🧪", "✅", "🤖"];

    private static void Noise(StringBuilder sb, XorShift rng)
    {
        int n = 3 + rng.Next(10);
        for (int i = 0; i < n; i++)
        {
            sb.Append(rng.Next(7) switch
            {
                0 => rng.Next(1_000_000_000).ToString(),
                1 => Emoji[rng.Next(Emoji.Length)],
                2 => new string(' ', 1 + rng.Next(6)),
                3 => "\t",
                4 => $"{rng.Next(100)}.{rng.Next(100000)}%",
                5 => "\u3000",
                _ => "\r\n",
            });
        }
    }
}

/// <summary>xorshift64*: tiny, fast, and the same on every platform and .NET version.</summary>
internal sealed class XorShift(ulong seed)
{
    private ulong _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;

    public ulong NextULong()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return _state * 0x2545F4914F6CDD1DUL;
    }

    public int Next(int bound) => (int)(NextULong() % (ulong)bound);
}
