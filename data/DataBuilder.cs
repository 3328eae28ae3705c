#:property PublishAot=false
// Builds SeekSharp's default-model data from Debian packages (see data/README.md):
//   dotnet run data/DataBuilder.cs -- corpus OUT_DIR [--bible FILE] [--docs FILE...]
//   dotnet run data/DataBuilder.cs -- chat OUT_DIR
// corpus: OUT_DIR/pretrain.txt, one entry per paragraph, sources in a fixed order.
// chat:   OUT_DIR/chat-train.jsonl ({"messages": [...]}, OpenAI style), OUT_DIR/heldout-qa.jsonl (questions about
//         held-out headwords, with references for `seeksharp eval`), OUT_DIR/seen-qa.jsonl (the same for trained
//         headwords), OUT_DIR/common-qa.jsonl (the most common trained words), OUT_DIR/heldout-headwords.txt.
// Deterministic: inputs are read in a fixed order, every random choice comes from a seeded generator, and the
// held-out headwords are a hash of the headword (HeldOut.Contains), so the same packages give the same bytes.
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

if (args.Length < 2 || (args[0] != "corpus" && args[0] != "chat"))
{
    Console.Error.WriteLine("usage: DataBuilder.cs (corpus|chat) OUT_DIR [--bible FILE] [--docs FILE...]");
    return 2;
}
string outDir = args[1];
Directory.CreateDirectory(outDir);
try
{
    if (args[0] == "corpus") Corpus.Build(outDir, args[2..]);
    else ChatData.Build(outDir);
    return 0;
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

/// <summary>The fixed 5% of headwords that no training data mentions as a headword (pretraining entries or chat).</summary>
internal static class HeldOut
{
    public const int PerMille = 50;

    public static string Key(string headword) => Regex.Replace(headword.Trim().ToLowerInvariant().Replace('_', ' '), @"\s+", " ");

    public static bool Contains(string headword)
    {
        byte[] h = SHA256.HashData(Encoding.UTF8.GetBytes("seeksharp-heldout-v1/" + Key(headword)));
        return BitConverter.ToUInt32(h, 0) % 1000 < PerMille;
    }
}

internal static class Paths
{
    public const string WordNet = "/usr/share/wordnet";
    public const string Dictd = "/usr/share/dictd";
    public const string Fortunes = "/usr/share/games/fortunes";
}

internal static class Text
{
    public static string Squash(string s) => Regex.Replace(s, @"\s+", " ").Trim();

    public static string Sentence(string s)
    {
        s = Squash(s);
        if (s.Length == 0) return s;
        s = char.ToUpperInvariant(s[0]) + s[1..];
        return ".!?\"')".Contains(s[^1]) ? s : s + ".";
    }

    /// <summary>The first sentences of a text, up to about maxChars (never cut inside a sentence unless the first is longer).</summary>
    public static string FirstSentences(string s, int maxChars)
    {
        s = Squash(s);
        var parts = Regex.Split(s, @"(?<=[a-z0-9\)][.!?])\s+(?=[A-Z(])");
        var sb = new StringBuilder();
        foreach (var p in parts)
        {
            if (sb.Length > 0 && sb.Length + p.Length + 1 > maxChars) break;
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(p);
        }
        string r = sb.ToString();
        if (r.Length > maxChars * 2) r = r[..(maxChars * 2)].TrimEnd() + "…";
        return r;
    }
}

/// <summary>One WordNet 3.0 synset (data.noun/verb/adj/adv).</summary>
internal sealed record Synset(string Offset, char Pos, string[] Lemmas, string Gloss, string[] Examples, List<(char Sym, string Target, char TargetPos, int Src, int Dst)> Pointers)
{
    public string PosName => Pos switch { 'n' => "noun", 'v' => "verb", 'a' or 's' => "adjective", _ => "adverb" };
}

internal sealed class WordNet
{
    public readonly Dictionary<string, Synset> Synsets = new();   // key pos+offset
    public readonly List<Synset> Ordered = new();
    /// <summary>Lemma (lower case, spaces) → its synsets, most frequent sense first, nouns before verbs before adjectives before adverbs.</summary>
    public readonly Dictionary<string, List<Synset>> Senses = new();
    public readonly List<string> LemmaOrder = new();

    public static string Key(char pos, string offset) => (pos == 's' ? 'a' : pos) + offset;

    public Synset? Get(char pos, string offset) => Synsets.GetValueOrDefault(Key(pos, offset));

    public static WordNet Load()
    {
        var wn = new WordNet();
        foreach (var file in new[] { "noun", "verb", "adj", "adv" })
        {
            foreach (var line in File.ReadLines(Path.Combine(Paths.WordNet, "data." + file)))
            {
                if (line.StartsWith("  ")) continue;   // licence header
                int bar = line.IndexOf(" | ", StringComparison.Ordinal);
                var f = (bar < 0 ? line : line[..bar]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
                string gloss = bar < 0 ? "" : line[(bar + 3)..].Trim();
                char pos = f[2][0];
                int wcnt = Convert.ToInt32(f[3], 16);
                var lemmas = new string[wcnt];
                for (int i = 0; i < wcnt; i++) lemmas[i] = Regex.Replace(f[4 + 2 * i], @"\((a|p|ip)\)$", "").Replace('_', ' ');
                int k = 4 + 2 * wcnt;
                int pcnt = int.Parse(f[k++]);
                var ptrs = new List<(char, string, char, int, int)>();
                for (int i = 0; i < pcnt; i++, k += 4)
                {
                    string st = f[k + 3];
                    ptrs.Add((f[k][0] == '@' && f[k].Length == 2 ? 'I' : f[k][0], f[k + 1], f[k + 2][0], Convert.ToInt32(st[..2], 16), Convert.ToInt32(st[2..], 16)));
                }
                var (def, examples) = SplitGloss(gloss);
                var s = new Synset(f[0], pos, lemmas, def, examples, ptrs);
                wn.Synsets[Key(pos, f[0])] = s;
                wn.Ordered.Add(s);
            }
        }
        foreach (var (file, pos) in new[] { ("noun", 'n'), ("verb", 'v'), ("adj", 'a'), ("adv", 'r') })
        {
            foreach (var line in File.ReadLines(Path.Combine(Paths.WordNet, "index." + file)))
            {
                if (line.StartsWith("  ")) continue;
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                string lemma = f[0].Replace('_', ' ');
                int synsetCount = int.Parse(f[2]);
                int pcnt = int.Parse(f[3]);
                var offsets = f[(4 + pcnt + 2)..(4 + pcnt + 2 + synsetCount)];
                if (!wn.Senses.TryGetValue(lemma, out var list)) { wn.Senses[lemma] = list = new(); wn.LemmaOrder.Add(lemma); }
                foreach (var o in offsets) if (wn.Get(pos, o) is { } s) list.Add(s);
            }
        }
        wn.LemmaOrder.Sort(StringComparer.Ordinal);
        return wn;
    }

    /// <summary>
    /// How often each lemma is used in running English: the sum of its senses' tag counts in the SemCor corpus, which
    /// WordNet ships as cntlist.rev ("sense_key sense_number tag_count"). Key: HeldOut.Key(lemma). 0 for unattested.
    /// </summary>
    public static Dictionary<string, int> TagCounts()
    {
        var counts = new Dictionary<string, int>();
        foreach (var line in File.ReadLines(Path.Combine(Paths.WordNet, "cntlist.rev")))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int pct = f.Length == 3 ? f[0].IndexOf('%') : -1;
            if (pct <= 0 || !int.TryParse(f[2], out int n)) continue;
            string key = HeldOut.Key(f[0][..pct]);
            counts[key] = counts.GetValueOrDefault(key) + n;
        }
        return counts;
    }

    private static (string Def, string[] Examples) SplitGloss(string gloss)
    {
        var examples = new List<string>();
        foreach (Match m in Regex.Matches(gloss, "\"([^\"]+)\"")) examples.Add(m.Groups[1].Value.Trim());
        string def = Regex.Replace(gloss, "\"[^\"]*\"", "");
        def = Regex.Replace(def, @"(\s*;\s*)+$", "").Trim().TrimEnd(';', ' ', ':');
        def = Regex.Replace(def, @"\s*;\s*;\s*", "; ");
        return (Text.Squash(def), examples.ToArray());
    }
}

/// <summary>A dictd database (index + dictzip'd data), read whole: headword and entry text, in file order.</summary>
internal static class Dictd
{
    private const string B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    private static long Decode(string s) { long v = 0; foreach (char c in s) v = v * 64 + B64.IndexOf(c); return v; }

    public static List<(string Head, string Body)> Read(string name)
    {
        byte[] data;
        using (var gz = new GZipStream(File.OpenRead(Path.Combine(Paths.Dictd, name + ".dict.dz")), CompressionMode.Decompress))
        using (var ms = new MemoryStream()) { gz.CopyTo(ms); data = ms.ToArray(); }
        var seen = new HashSet<long>();
        var entries = new List<(long Off, string Head, string Body)>();
        foreach (var line in File.ReadLines(Path.Combine(Paths.Dictd, name + ".index")))
        {
            var f = line.Split('\t');
            if (f.Length < 3 || f[0].StartsWith("00-database") || f[0].StartsWith("00database")) continue;
            long off = Decode(f[1]), len = Decode(f[2]);
            if (!seen.Add(off) || off + len > data.Length) continue;
            string body = Encoding.UTF8.GetString(data, (int)off, (int)len);
            entries.Add((off, f[0], body));
        }
        entries.Sort((a, b) => a.Off.CompareTo(b.Off));
        return entries.Select(e => (e.Head, e.Body)).ToList();
    }

    /// <summary>FOLDOC/Jargon markup: {cross references} become plain words; &lt;domain&gt; tags, [citations], (dates) and URLs go.</summary>
    public static string Clean(string s)
    {
        s = Regex.Replace(s, @"\{\(?(https?|ftp)://[^}]*\}", "");
        s = Regex.Replace(s, @"(https?|ftp)://\S+", "");
        s = Regex.Replace(s, @"\{([^{}]*)\}", "$1");
        s = Regex.Replace(s, @"<[a-z ,]+>\s*", "");
        s = Regex.Replace(s, @"\(\d{4}-\d{2}-\d{2}\)", "");
        s = Regex.Replace(s, @"\[""[^\]]*\]", "");
        return s;
    }
}

/// <summary>An entry of a structured dictionary, cleaned: headword and its definition text.</summary>
internal sealed record Entry(string Source, string Head, string Definition);

internal static class Sources
{
    /// <summary>Jargon File and FOLDOC: the entry's paragraphs after the headword line (Jargon: after its pronunciation/part-of-speech line).</summary>
    public static List<Entry> Computing(string name)
    {
        var list = new List<Entry>();
        foreach (var (head, body) in Dictd.Read(name))
        {
            var lines = body.Replace("\r", "").Split('\n');
            if (lines.Length < 2) continue;
            string headLine = lines[0].Trim();
            int start = 1;
            if (name == "jargon" && start < lines.Length && lines[start].StartsWith(' ') && lines[start].Trim().Length > 0 && !lines[start].StartsWith("    ")) start++;
            var text = string.Join("\n", lines[start..]);
            var paras = Regex.Split(text, @"\n\s*\n").Select(p => Text.Squash(Dictd.Clean(p))).Where(p => p.Length > 0).ToList();
            if (paras.Count == 0) continue;
            // FOLDOC numbers senses "1. ... 2. ..." and starts with a pronunciation sometimes.
            string def = string.Join("\n", paras.Where(p => !p.StartsWith("See also") && !p.StartsWith("Home page")));
            def = Regex.Replace(def, @"^/[^/]{1,40}/( or /[^/]{1,40}/)?,?\s*", "");
            if (def.Length < 8) continue;
            list.Add(new Entry(name, headLine.Length > 0 ? headLine : head, def));
        }
        return list;
    }

    /// <summary>The Devil's Dictionary: "WORD, n.  Definition." paragraphs.</summary>
    public static List<Entry> Devil()
    {
        var list = new List<Entry>();
        foreach (var (head, body) in Dictd.Read("devil"))
        {
            var text = body.Replace("\r", "").Trim();
            var m = Regex.Match(text, @"^([A-Z][A-Z' \-]*),\s*([a-z.\s]+?)\s{2,}(.*)$", RegexOptions.Singleline);
            if (!m.Success) continue;
            string word = m.Groups[1].Value.Trim();
            string def = Text.Squash(m.Groups[3].Value);
            if (def.Length < 4) continue;
            list.Add(new Entry("devil", word.ToLowerInvariant(), def));
        }
        return list;
    }

    public sealed record Element(string Name, string Symbol, int Number, string Weight, string Description);

    public static List<Element> Elements()
    {
        var list = new List<Element>();
        foreach (var (head, body) in Dictd.Read("elements"))
        {
            var m = Regex.Match(body.Replace("\r", ""), @"^\s*(\S+)\s*\nSymbol:\s*(\S+)\s*\nAtomic number:\s*(\d+)\s*\nAtomic weight:\s*(\S+)\s*\n(.*)$", RegexOptions.Singleline);
            if (!m.Success) continue;
            list.Add(new Element(m.Groups[1].Value.ToLowerInvariant(), m.Groups[2].Value, int.Parse(m.Groups[3].Value), m.Groups[4].Value.Trim('(', ')'), Text.Squash(m.Groups[5].Value)));
        }
        return list;
    }

    /// <summary>GCIDE (Webster's 1913): markup-light text of each entry, headword first.</summary>
    public static IEnumerable<Entry> Gcide()
    {
        foreach (var (head, body) in Dictd.Read("gcide"))
        {
            var lines = body.Replace("\r", "").Split('\n').Where(l => !Regex.IsMatch(l, @"^\s*\[[^\]]*\]\s*$")).ToList();
            if (lines.Count < 2) continue;
            string s = string.Join("\n", lines);
            s = Regex.Replace(s, @"\s*\\[^\\\n]*\\", "");                      // pronunciations \Ab*do"men\
            s = Regex.Replace(s, @"(?<=\p{L})[*`""'](?=\p{L})", m => m.Value == "'" ? "'" : ""); // syllable marks
            s = Regex.Replace(s, @"\{([^{}]*)\}", "$1");
            s = Regex.Replace(s, @"\[(?:[^\[\]]|\[[^\]]*\])*(fr\.|Cf\.|L\.|F\.|OE\.|AS\.|Gr\.|Of uncertain|Etym)(?:[^\[\]]|\[[^\]]*\])*\]", "");
            s = Regex.Replace(s, @"\[(?:[^\[\]]|\[[^\]]*\])*\]", m => m.Length < 24 ? m.Value : "");
            var paras = Regex.Split(s, @"\n\s*\n").Select(Text.Squash).Where(p => p.Length > 0);
            string text = "";
            foreach (var p in paras)
            {
                if (text.Length > 0 && text.Length + p.Length > 600) break;   // the first senses; long quotations add little
                text = text.Length == 0 ? p : text + "\n" + p;
            }
            if (text.Length < 12) continue;
            yield return new Entry("gcide", head, text);
        }
    }

    /// <summary>Fortune cookies: the strfile text files (no .dat), entries between lines of "%".</summary>
    public static List<string> Fortunes()
    {
        var list = new List<string>();
        foreach (var f in Directory.GetFiles(Paths.Fortunes).Where(f => Path.GetExtension(f) == "").OrderBy(f => f, StringComparer.Ordinal))
        {
            if (Path.GetFileName(f) is "ascii-art" or "art") continue;
            var text = File.ReadAllText(f).Replace("\r", "");
            foreach (var e in text.Split("\n%\n"))
            {
                var t = e.Trim('\n', '%');
                if (t.Trim().Length > 0) list.Add(t.TrimEnd());
            }
        }
        return list;
    }
}

internal static class Corpus
{
    public static void Build(string outDir, string[] opts)
    {
        string? bible = null;
        var docs = new List<string>();
        for (int i = 0; i < opts.Length; i++)
        {
            if (opts[i] == "--bible") bible = opts[++i];
            else if (opts[i] == "--docs") { while (i + 1 < opts.Length && !opts[i + 1].StartsWith("--")) docs.Add(opts[++i]); }
            else throw new IOException($"unknown option {opts[i]}");
        }
        string path = Path.Combine(outDir, "pretrain.txt");
        string tmp = path + ".tmp";
        // Every entry of every source, then one seeded shuffle: a validation split taken from the end of the file
        // (`train --val-fraction`) is then a fair sample of all sources.
        var entries = new List<string>();
        var counts = new List<(string Source, int Entries, long Bytes)>();
        void Section(string name, IEnumerable<string> items)
        {
            int n = 0;
            long bytes = 0;
            foreach (var e in items) { entries.Add(e); n++; bytes += Encoding.UTF8.GetByteCount(e) + 2; }
            counts.Add((name, n, bytes));
        }
        var wn = WordNet.Load();
        Section("wordnet", WordNetEntries(wn));
        Section("gcide", Sources.Gcide().Where(e => !HeldOut.Contains(e.Head)).Select(e => e.Definition));
        Section("elements", Sources.Elements().Where(e => !HeldOut.Contains(e.Name)).Select(e =>
            $"{Cap(e.Name)} is a chemical element with the symbol {e.Symbol} and atomic number {e.Number}; its atomic weight is {e.Weight}. {e.Description}"));
        Section("jargon", Sources.Computing("jargon").Where(e => !HeldOut.Contains(e.Head)).Select(e => $"{e.Head}: {e.Definition}"));
        Section("foldoc", Sources.Computing("foldoc").Where(e => !HeldOut.Contains(e.Head)).Select(e => $"{e.Head}: {e.Definition}"));
        Section("devil", Sources.Devil().Where(e => !HeldOut.Contains(e.Head)).Select(e => $"{e.Head.ToUpperInvariant()}: {e.Definition}"));
        Section("fortunes", Sources.Fortunes());
        if (bible is not null) Section("bible", BibleChapters(bible));
        foreach (var d in docs) Section("docs:" + Path.GetFileName(d), Paragraphs(File.ReadAllText(d)));
        var rng = new Random(20261203);
        for (int i = entries.Count - 1; i > 0; i--) { int j = rng.Next(i + 1); (entries[i], entries[j]) = (entries[j], entries[i]); }
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false)) { NewLine = "\n" })
            foreach (var e in entries) { w.Write(e); w.Write("\n\n"); }
        File.Move(tmp, path, overwrite: true);
        foreach (var (s, n, b) in counts) Console.Error.WriteLine($"{s,-28} {n,9:N0} entries {b,13:N0} bytes");
        Console.Error.WriteLine($"{path}: {new FileInfo(path).Length:N0} bytes, sha256 {Sha(path)}");
    }

    public static string Cap(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    public static string Sha(string path) { using var f = File.OpenRead(path); return Convert.ToHexString(SHA256.HashData(f)).ToLowerInvariant(); }

    /// <summary>One paragraph per synset: its (not held-out) lemmas, part of speech, definition, examples, synonyms' kinds.</summary>
    private static IEnumerable<string> WordNetEntries(WordNet wn)
    {
        foreach (var s in wn.Ordered)
        {
            var lemmas = s.Lemmas.Where(l => !HeldOut.Contains(l)).Distinct().ToList();
            if (lemmas.Count == 0 || s.Gloss.Length == 0) continue;
            var sb = new StringBuilder();
            sb.Append(string.Join(", ", lemmas)).Append(" (").Append(s.PosName).Append("): ").Append(s.Gloss).Append('.');
            var kinds = s.Pointers.Where(p => p.Sym is '@' or 'I').Select(p => wn.Get(p.TargetPos, p.Target)).Where(t => t is not null)
                .Select(t => t!.Lemmas.FirstOrDefault(l => !HeldOut.Contains(l))).Where(l => l is not null).ToList();
            if (kinds.Count > 0) sb.Append(' ').Append(s.Pos == 'v' ? "A way to " : "A kind of ").Append(string.Join(", ", kinds)).Append('.');
            foreach (var e in s.Examples.Where(e => !MentionsHeldOut(e, s))) sb.Append(" Example: \"").Append(e).Append("\".");
            yield return sb.ToString();
        }
    }

    /// <summary>An example sentence pairs a held-out lemma with its definition when it uses that lemma; drop those.</summary>
    private static bool MentionsHeldOut(string example, Synset s) =>
        s.Lemmas.Any(l => HeldOut.Contains(l) && example.Contains(l.Split(' ')[0], StringComparison.OrdinalIgnoreCase));

    private static IEnumerable<string> BibleChapters(string file)
    {
        // `bible -l0` output: "Book N" headers, then "  V text" lines; one paragraph per chapter.
        var sb = new StringBuilder();
        foreach (var raw in File.ReadLines(file))
        {
            string line = raw.TrimEnd();
            if (line.Length == 0) continue;
            if (!line.StartsWith(' '))
            {
                if (sb.Length > 0) yield return sb.ToString();
                sb.Clear().Append(line).Append('\n');
            }
            else sb.Append(Regex.Replace(line.Trim(), @"^\d+\s+", "")).Append(' ');
        }
        if (sb.Length > 0) yield return sb.ToString();
    }

    private static IEnumerable<string> Paragraphs(string text) =>
        Regex.Split(text.Replace("\r", ""), @"\n\s*\n").Select(p => p.Trim('\n')).Where(p => p.Trim().Length > 0);
}

internal static class ChatData
{
    private sealed record Qa(string Question, string Answer, string Kind, string Head, string[] References);

    private static readonly string[] Systems =
    {
        "You are a helpful assistant.",
        "You are SeekSharp, a small assistant. Answer briefly.",
        "Answer the user's question in one or two sentences.",
    };

    public static void Build(string outDir)
    {
        var rng = new Random(20261203);
        var wn = WordNet.Load();
        var seen = new List<Qa>();      // headwords that may be trained on
        var heldOut = new List<Qa>();   // about held-out headwords: evaluation only
        void Add(Qa q) => (HeldOut.Contains(q.Head) ? heldOut : seen).Add(q);

        var words = new Dictionary<string, (string Word, List<Synset> Senses)>();   // headword → its senses, for rephrased copies
        foreach (var lemma in wn.LemmaOrder)
        {
            if (lemma.Length < 2 || lemma.Any(char.IsDigit)) continue;
            var senses = wn.Senses[lemma];
            if (senses.Count == 0) continue;
            // index.* lemmas are lower case; the synsets keep the word's own spelling ("Lower California").
            string word = senses[0].Lemmas.FirstOrDefault(l => l.Equals(lemma, StringComparison.OrdinalIgnoreCase)) ?? lemma;
            words.TryAdd(word, (word, senses));
            foreach (var q in WordQuestions(wn, word, senses, rng)) Add(q);
        }
        var elements = Sources.Elements();
        foreach (var e in elements)
            foreach (var q in ElementQuestions(e, rng)) Add(q);
        foreach (var src in new[] { "jargon", "foldoc" })
            foreach (var e in Sources.Computing(src))
            {
                string head = e.Head;
                if (head.Length < 2 || head.Length > 40) continue;
                string first = e.Definition.Split('\n')[0];
                first = Regex.Replace(first, @"^1\.\s*", "");
                string answer = Text.FirstSentences(first, 240);
                if (answer.Length < 20) continue;
                string q = Pick(rng, $"What is {head} in computing?", $"What does \"{head}\" mean in computing?", $"In computing, what is {head}?",
                    $"Explain {head}.", $"What is {head}?", $"Define {head} (computing).");
                Add(new Qa(q, $"In computing, {head}: {answer}", src, head, new[] { answer }));
            }
        foreach (var e in Sources.Devil())
        {
            string answer = Text.FirstSentences(e.Definition, 240);
            string q = Pick(rng, $"How does the Devil's Dictionary define {e.Head}?", $"What is {e.Head}, according to Ambrose Bierce?", $"Give me the Devil's Dictionary definition of {e.Head}.");
            Add(new Qa(q, $"Ambrose Bierce defined {e.Head.ToUpperInvariant()} as: {answer}", "devil", e.Head, new[] { answer }));
        }
        foreach (var f in Sources.Fortunes().Where(f => f.Length is > 20 and < 240 && !f.Contains('\t')))
        {
            if (rng.Next(3) != 0) continue;
            string q = Pick(rng, "Tell me a fortune.", "Give me a quote.", "Say something wise.", "Tell me something funny.", "Give me a fortune cookie.");
            seen.Add(new Qa(q, f.Trim(), "fortune", "", Array.Empty<string>()));
        }
        foreach (var g in Greetings()) seen.Add(g);

        // The mix (version 3 of the default model): fine-tuning shows the model about 55,000 exchanges, a sixth of all
        // there are, so the set is shaped for what users ask. Words common in running English (SemCor tag counts) get
        // their definition asked log2(1 + count) times (rounded, 1 to 8), each time in a fresh phrasing; unattested words
        // keep one row in 8 (definitions) or 16 (the rest); the elements' facts are asked 6 times; greetings 10 times.
        // Headwords of a further 2% (a hash) go to the validation block at the end instead, once each, so no copy of a
        // validation row is trained on.
        var tags = WordNet.TagCounts();
        int Count(string head) => tags.GetValueOrDefault(HeldOut.Key(head));
        var mix = new Random(20261204);
        var train = new List<Qa>();
        var validation = new List<Qa>();
        foreach (var q in seen)
        {
            if (q.Head.Length > 0 && q.Kind is not ("element" or "element-about") && Validation(q.Head)) { validation.Add(q); continue; }
            int n = Count(q.Head);
            switch (q.Kind)
            {
                case "definition" when n > 0:
                    train.Add(q);
                    var (word, senses) = words[q.Head];
                    for (int c = 1; c < Copies(n); c++) train.Add(WordQuestions(wn, word, senses, mix).First(x => x.Kind == "definition"));
                    break;
                case "definition":
                    if (mix.Next(8) == 0) train.Add(q);
                    break;
                case "synonym" or "example" or "antonym" or "hypernym":
                    if (mix.Next(n > 0 ? 2 : 16) == 0) train.Add(q);
                    break;
                case "jargon" or "foldoc":
                    if (mix.Next(2) == 0) train.Add(q);
                    break;
                case "greeting":
                    for (int c = 0; c < 10; c++) train.Add(q);
                    break;
                default:   // element facts (below), the Devil's Dictionary, fortunes
                    if (q.Kind is not ("element" or "element-about")) train.Add(q);
                    break;
            }
        }
        foreach (var e in elements.Where(e => !HeldOut.Contains(e.Name)))
            for (int c = 0; c < 6; c++)
                train.AddRange(ElementQuestions(e, mix));

        // One shuffled file, the validation block last: `train --chat --val-fraction 0.02` holds out exactly that block.
        Shuffle(train, rng);
        var lines = Conversations(train, rng, multiTurn: true);
        int v = ValidationRows(lines.Count, 0.02);
        var validationRows = validation.OrderBy(q => StableHash(q.Question)).ThenBy(q => q.Question, StringComparer.Ordinal).Take(v).ToList();
        if (validationRows.Count < v) throw new InvalidDataException($"only {validation.Count} validation exchanges for a block of {v}.");
        lines.AddRange(Conversations(validationRows, rng, multiTurn: false));
        WriteLines(Path.Combine(outDir, "chat-train.jsonl"), lines);
        Console.Error.WriteLine($"chat-train.jsonl: {lines.Count - v:N0} training rows ({train.Count:N0} exchanges), then {v:N0} validation rows (--val-fraction 0.02)");

        // Evaluation sets: a fixed sample of questions about held-out headwords (every element fact, since there are
        // few), and, for comparison, definitions of headwords that were trained on. The order is a hash of the question.
        IEnumerable<Qa> Sample(IEnumerable<Qa> qs, int n) => qs.OrderBy(q => StableHash(q.Question)).ThenBy(q => q.Question, StringComparer.Ordinal).Take(n);
        // Definitions are asked of plain words (one lower-case word, as a user would ask), not of taxonomic or proper names.
        static bool Plain(Qa q) => Regex.IsMatch(q.Head, "^[a-z]{3,}$");
        var eval = Sample(heldOut.Where(q => q.Kind == "definition" && Plain(q)), 400)
            .Concat(Sample(heldOut.Where(q => q.Kind == "element"), 1000))
            .Concat(Sample(heldOut.Where(q => q.Kind == "synonym"), 100))
            .Concat(Sample(heldOut.Where(q => q.Kind is "jargon" or "foldoc"), 100)).ToList();
        WriteEval(Path.Combine(outDir, "heldout-qa.jsonl"), eval);
        var trainedDefinitions = train.Where(q => q.Kind == "definition" && Plain(q)).DistinctBy(q => q.Head).ToList();
        WriteEval(Path.Combine(outDir, "seen-qa.jsonl"), Sample(trainedDefinitions, 200).ToList());
        // The words users ask about: the 200 most common trained plain words (SemCor counts), one definition question each.
        WriteEval(Path.Combine(outDir, "common-qa.jsonl"), trainedDefinitions.OrderByDescending(q => Count(q.Head)).ThenBy(q => q.Head, StringComparer.Ordinal).Take(200).ToList());
        File.WriteAllLines(Path.Combine(outDir, "heldout-headwords.txt"), heldOut.Select(q => q.Head).Distinct().Order(StringComparer.Ordinal));
        foreach (var name in new[] { "chat-train.jsonl", "heldout-qa.jsonl", "seen-qa.jsonl", "common-qa.jsonl", "heldout-headwords.txt" })
        {
            string p = Path.Combine(outDir, name);
            Console.Error.WriteLine($"{p}: {File.ReadLines(p).Count():N0} rows, {new FileInfo(p).Length:N0} bytes, sha256 {Corpus.Sha(p)}");
        }
        foreach (var grp in heldOut.GroupBy(q => q.Kind).OrderBy(g => g.Key)) Console.Error.WriteLine($"  held out {grp.Key}: {grp.Count():N0}");
        foreach (var grp in train.GroupBy(q => q.Kind).OrderBy(g => g.Key)) Console.Error.WriteLine($"  trained {grp.Key}: {grp.Count():N0}");
    }

    /// <summary>Times a definition is asked: log2(1 + SemCor count), rounded, from 1 to 8.</summary>
    private static int Copies(int count) => Math.Clamp((int)Math.Round(Math.Log2(1 + count)), 1, 8);

    /// <summary>The 2% of (not held-out) headwords whose conversations form the chat validation block.</summary>
    private static bool Validation(string head) => StableHash("seeksharp-chat-validation-v1/" + HeldOut.Key(head)) % 50 == 0;

    /// <summary>The block size V that `train --val-fraction f` holds out of T + V rows: (int)((T + V)·f) = V.</summary>
    private static int ValidationRows(int trainRows, double fraction)
    {
        for (int v = (int)(trainRows * fraction / (1 - fraction)) - 2; v < trainRows; v++)
            if (v >= 1 && (int)((trainRows + v) * fraction) == v) return v;
        throw new InvalidDataException($"no validation block fits {trainRows} rows at {fraction}.");
    }

    private static IEnumerable<Qa> WordQuestions(WordNet wn, string lemma, List<Synset> senses, Random rng)
    {
        // "What does X mean?" → the most frequent sense, and the next one when there is one; references: every sense.
        // Answers name the word without quotes, so its tokens are the question's (" word"): copying stays a plain copy.
        var first = senses[0];
        var refs = senses.Select(s => s.Gloss).Where(g => g.Length > 0).Distinct().ToArray();
        if (first.Gloss.Length > 0)
        {
            string ans = $"As {Article(first.PosName)} {first.PosName}, {lemma} means {first.Gloss}.";
            var second = senses.Skip(1).FirstOrDefault(s => s.Gloss.Length > 0 && s.Gloss != first.Gloss);
            if (second is not null) ans += second.Pos == first.Pos ? $" It can also mean {second.Gloss}." : $" As {Article(second.PosName)} {second.PosName}, it means {second.Gloss}.";
            string q = Pick(rng, $"What does {lemma} mean?", $"What does \"{lemma}\" mean?", $"What is the meaning of {lemma}?", $"Define {lemma}.",
                $"What's the definition of {lemma}?", $"Can you tell me what {lemma} means?", $"Meaning of {lemma}?", $"What is meant by \"{lemma}\"?",
                $"Explain the word {lemma}.", $"I don't know the word \"{lemma}\". What does it mean?");
            yield return new Qa(q, ans, "definition", lemma, refs);
        }
        // Synonyms from the first sense that has other lemmas.
        var syn = senses.FirstOrDefault(s => s.Lemmas.Any(l => !l.Equals(lemma, StringComparison.OrdinalIgnoreCase)));
        if (syn is not null)
        {
            var others = syn.Lemmas.Where(l => !l.Equals(lemma, StringComparison.OrdinalIgnoreCase)).Distinct().Take(3).ToArray();
            string q = Pick(rng, $"Give me a synonym for {lemma}.", $"What is a synonym of \"{lemma}\"?", $"What's another word for {lemma}?",
                $"Name a word that means the same as {lemma}.", $"Synonym for {lemma}?");
            string ans = others.Length == 1 ? $"A synonym for {lemma} is {others[0]}." : $"Synonyms for {lemma} include {string.Join(", ", others[..^1])} and {others[^1]}.";
            yield return new Qa(q, ans, "synonym", lemma, others);
        }
        // An example sentence from WordNet that uses the word.
        foreach (var s in senses)
        {
            var ex = s.Examples.FirstOrDefault(e => Regex.IsMatch(e, $@"\b{Regex.Escape(lemma.Split(' ')[0])}", RegexOptions.IgnoreCase));
            if (ex is null) continue;
            string q = Pick(rng, $"Use {lemma} in a sentence.", $"Give me an example sentence with \"{lemma}\".", $"How do you use the word {lemma}?",
                $"Write a sentence using {lemma}.");
            yield return new Qa(q, Text.Sentence(ex), "example", lemma, new[] { ex });
            break;
        }
        // "What kind of thing is X?" from the first noun sense's hypernym.
        var noun = senses.FirstOrDefault(s => s.Pos == 'n');
        if (noun is not null)
        {
            var hyper = noun.Pointers.Where(p => p.Sym is '@' or 'I').Select(p => wn.Get(p.TargetPos, p.Target)).FirstOrDefault(t => t is not null);
            if (hyper is not null)
            {
                string q = Pick(rng, $"What kind of thing is {Article(lemma)} {lemma}?", $"{Corpus.Cap(Article(lemma))} {lemma} is a type of what?", $"What category does \"{lemma}\" belong to?");
                yield return new Qa(q, $"{Corpus.Cap(Article(lemma))} {lemma} is a kind of {hyper.Lemmas[0]}: {hyper.Gloss}.", "hypernym", lemma, new[] { hyper.Lemmas[0] });
            }
        }
        // Antonyms: lexical "!" pointers from this lemma.
        foreach (var s in senses)
        {
            int idx = Array.FindIndex(s.Lemmas, l => l.Equals(lemma, StringComparison.OrdinalIgnoreCase)) + 1;
            var ant = s.Pointers.FirstOrDefault(p => p.Sym == '!' && p.Src == idx);
            if (ant.Sym != '!' || wn.Get(ant.TargetPos, ant.Target) is not { } t || ant.Dst < 1 || ant.Dst > t.Lemmas.Length) continue;
            string opposite = t.Lemmas[ant.Dst - 1];
            string q = Pick(rng, $"What is the opposite of {lemma}?", $"Give me an antonym for {lemma}.", $"What's the antonym of \"{lemma}\"?");
            yield return new Qa(q, $"The opposite of {lemma} is {opposite}.", "antonym", lemma, new[] { opposite });
            break;
        }
    }

    private static IEnumerable<Qa> ElementQuestions(Sources.Element e, Random rng)
    {
        string n = e.Name;
        yield return new Qa(Pick(rng, $"What is the atomic number of {n}?", $"What's {n}'s atomic number?", $"Atomic number of {n}?"),
            $"The atomic number of {n} is {e.Number}.", "element", n, new[] { e.Number.ToString() });
        yield return new Qa(Pick(rng, $"What is the chemical symbol for {n}?", $"What is the symbol of {n}?", $"Which symbol stands for {n}?"),
            $"The chemical symbol for {n} is {e.Symbol}.", "element", n, new[] { e.Symbol });
        yield return new Qa(Pick(rng, $"What is the atomic weight of {n}?", $"How heavy is an atom of {n}?"),
            $"The atomic weight of {n} is {e.Weight}.", "element", n, new[] { e.Weight });
        yield return new Qa(Pick(rng, $"Which element has the symbol {e.Symbol}?", $"What element is {e.Symbol}?"),
            $"{e.Symbol} is the symbol for {n}.", "element", n, new[] { n });
        yield return new Qa(Pick(rng, $"Which element has atomic number {e.Number}?", $"What is element number {e.Number}?"),
            $"Element number {e.Number} is {n}.", "element", n, new[] { n });
        if (e.Description.Length > 10)
            yield return new Qa(Pick(rng, $"Tell me about {n}.", $"What is {n}?", $"Describe the element {n}."),
                $"{Corpus.Cap(n)} ({e.Symbol}, atomic number {e.Number}) is a chemical element. {Text.FirstSentences(e.Description, 240)}", "element-about", n, new[] { e.Description });
    }

    private static IEnumerable<Qa> Greetings()
    {
        const string intro = "I am the small default model of SeekSharp, a DeepSeek-V3-style model trained on a CPU. I know English words from WordNet and Webster's 1913 dictionary, computing terms from the Jargon File and FOLDOC, and the chemical elements.";
        foreach (var h in new[] { "Hello", "Hi", "Hello!", "Hi there", "Hey", "Good morning", "Good evening", "hello", "hi" })
            yield return new Qa(h, $"Hello! {intro} Ask me what a word means.", "greeting", "", Array.Empty<string>());
        foreach (var q in new[] { "Who are you?", "What are you?", "What can you do?", "What do you know?", "Tell me about yourself.", "What is your name?" })
            yield return new Qa(q, intro + " For example, ask \"What does serendipity mean?\" or \"What is the atomic number of gold?\"", "greeting", "", Array.Empty<string>());
        foreach (var q in new[] { "Thank you", "Thanks!", "thanks", "Thank you very much." })
            yield return new Qa(q, "You are welcome!", "greeting", "", Array.Empty<string>());
    }

    private static List<string> Conversations(List<Qa> qas, Random rng, bool multiTurn)
    {
        var lines = new List<string>();
        for (int i = 0; i < qas.Count;)
        {
            int turns = multiTurn && rng.Next(5) == 0 ? 2 + rng.Next(2) : 1;
            var msgs = new List<Dictionary<string, string>>();
            if (rng.Next(8) == 0) msgs.Add(new() { ["role"] = "system", ["content"] = Systems[rng.Next(Systems.Length)] });
            for (int t = 0; t < turns && i < qas.Count; t++, i++)
            {
                msgs.Add(new() { ["role"] = "user", ["content"] = qas[i].Question });
                msgs.Add(new() { ["role"] = "assistant", ["content"] = qas[i].Answer });
            }
            lines.Add(JsonSerializer.Serialize(new { messages = msgs }, JsonOut));
        }
        return lines;
    }

    private static void WriteLines(string path, List<string> lines)
    {
        string tmp = path + ".tmp";
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false)) { NewLine = "\n" })
            foreach (var line in lines) w.WriteLine(line);
        File.Move(tmp, path, overwrite: true);
    }

    private static void WriteEval(string path, List<Qa> qas)
    {
        string tmp = path + ".tmp";
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            foreach (var q in qas)
            {
                string scoring = q.Kind is "element" ? "exact" : "overlap";
                var row = new
                {
                    messages = new[] { new { role = "user", content = q.Question } },
                    kind = q.Kind,
                    headword = q.Head,
                    scoring,
                    references = q.References,
                    answer = q.Answer,
                };
                w.WriteLine(JsonSerializer.Serialize(row, JsonOut));
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    private static readonly JsonSerializerOptions JsonOut = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Article(string word) => word.Length > 0 && "aeiouAEIOU".Contains(word[0]) ? "an" : "a";

    private static string Pick(Random rng, params string[] options) => options[rng.Next(options.Length)];

    private static uint StableHash(string s) => BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(s)), 0);

    private static void Shuffle<T>(List<T> list, Random rng)
    {
        for (int i = list.Count - 1; i > 0; i--) { int j = rng.Next(i + 1); (list[i], list[j]) = (list[j], list[i]); }
    }
}
