using System.Buffers;

namespace SeekSharp.Tokenization;

/// <summary>
/// Finds added tokens in text, leftmost first and longest at a position (Hugging Face's Aho-Corasick
/// "LeftmostLongest"). A vectorised search for the tokens' first characters skips ordinary text; a character trie
/// then finds the longest token at each candidate. Immutable and thread-safe.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Node _root = new();
    private readonly SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        var first = new HashSet<char>();
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0)
                continue;
            first.Add(token.Content[0]);
            var node = _root;
            foreach (char c in token.Content)
            {
                node.Children ??= new Dictionary<char, Node>();
                if (!node.Children.TryGetValue(c, out var child))
                    node.Children[c] = child = new Node();
                node = child;
            }
            node.Token ??= token;   // the first of two tokens with the same content wins
            IsEmpty = false;
        }
        _firstChars = SearchValues.Create(first.ToArray());
    }

    public bool IsEmpty { get; } = true;

    /// <summary>
    /// The first added token at or after <paramref name="from"/>: its span [start, end) in <paramref name="text"/>,
    /// widened over white space where the token asks for lstrip/rstrip.
    /// </summary>
    public bool FindNext(ReadOnlySpan<char> text, int from, out int start, out int end, out AddedToken token)
    {
        int i = from;
        while (i < text.Length)
        {
            int k = text[i..].IndexOfAny(_firstChars);
            if (k < 0)
                break;
            i += k;
            if (LongestAt(text, i) is { } found && (!found.SingleWord || IsAlone(text, i, i + found.Content.Length)))
            {
                token = found;
                start = i;
                end = i + found.Content.Length;
                if (found.LStrip)
                    while (start > from && char.IsWhiteSpace(text[start - 1]))
                        start--;
                if (found.RStrip)
                    while (end < text.Length && char.IsWhiteSpace(text[end]))
                        end++;
                return true;
            }
            i++;
        }
        start = end = -1;
        token = null!;
        return false;
    }

    private AddedToken? LongestAt(ReadOnlySpan<char> text, int i)
    {
        AddedToken? best = null;
        var node = _root;
        for (int j = i; j < text.Length; j++)
        {
            if (node.Children is null || !node.Children.TryGetValue(text[j], out var child))
                break;
            node = child;
            best = node.Token ?? best;
        }
        return best;
    }

    // single_word: no letter or digit directly before or after the match.
    private static bool IsAlone(ReadOnlySpan<char> text, int start, int end) =>
        (start == 0 || !char.IsLetterOrDigit(text[start - 1])) && (end == text.Length || !char.IsLetterOrDigit(text[end]));

    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedToken? Token;
    }
}
