using System.Runtime.CompilerServices;
using SeekSharp.Tokenization;

namespace SeekSharp.Inference.Structured;

/// <summary>
/// The bytes of every ordinary token of a tokenizer (special tokens left out), in a trie: tokens that share a prefix
/// share its nodes, so checking the whole vocabulary against a grammar state walks each prefix once and drops every
/// token below a rejected byte at once. Built once per tokenizer (<see cref="For"/>).
/// </summary>
internal sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<Tokenizer, TokenTrie> s_cache = new();

    private TokenTrie(Tokenizer tokenizer)
    {
        var root = new Builder();
        var bytes = new byte[tokenizer.VocabSize][];
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            if (tokenizer.IsSpecial(id) || tokenizer.IdToToken(id) is null) continue;
            var b = tokenizer.TokenBytes(id);
            if (b.IsEmpty) continue;
            bytes[id] = b.ToArray();
            var node = root;
            foreach (byte x in b) node = node.Child(x);
            node.Tokens.Add(id);
        }
        Root = root.Build();
        Bytes = bytes;
    }

    public static TokenTrie For(Tokenizer tokenizer) => s_cache.GetValue(tokenizer, t => new TokenTrie(t));

    public Node Root { get; }

    /// <summary>Each token's bytes (null for special tokens and holes).</summary>
    public byte[]?[] Bytes { get; }

    /// <summary>A trie node: the byte leading to each child, the children, and the tokens that end here.</summary>
    internal sealed record Node(byte[] Labels, Node[] Children, int[] Tokens);

    private sealed class Builder
    {
        private readonly SortedDictionary<byte, Builder> _children = new();
        public List<int> Tokens { get; } = new();

        public Builder Child(byte b)
        {
            if (!_children.TryGetValue(b, out var c)) _children[b] = c = new Builder();
            return c;
        }

        public Node Build() => new([.. _children.Keys], _children.Values.Select(c => c.Build()).ToArray(), [.. Tokens]);
    }
}
