using SeekSharp.Tokenization;

namespace SeekSharp.Inference.Structured;

/// <summary>
/// Constrains one generation to a <see cref="JsonGrammar"/>: before each token <see cref="Mask"/> sets to −∞ the logits
/// of every token whose bytes cannot extend the text so far (and of end-of-sequence until the JSON is complete), and
/// keeps the JSON finishable within the tokens left; <see cref="Accept"/> advances it by the chosen token. Once
/// <see cref="IsComplete"/>, generation should stop. Not thread-safe: one per generation.
/// </summary>
public sealed class JsonConstraint
{
    private readonly TokenTrie _trie;
    private readonly int? _eos;
    private readonly bool[] _allowed;
    private JsonGrammarState _state;
    private int _budget;
    private bool _any;

    public JsonConstraint(JsonGrammar grammar, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _trie = TokenTrie.For(tokenizer);
        _eos = tokenizer.EosId;
        _allowed = new bool[tokenizer.VocabSize];
        _state = grammar.Start;
    }

    public JsonGrammarState State => _state;

    /// <summary>The JSON is complete: nothing but the end may follow.</summary>
    public bool IsComplete => _state.IsComplete;

    /// <summary>
    /// Masks <paramref name="logits"/> (at least the vocabulary long; ids past it are masked too) to the tokens allowed
    /// next. With <paramref name="tokensLeft"/>, a token is allowed only if the JSON can still be completed in the
    /// tokens left after it (one byte per token at worst); if that leaves nothing, any valid token is allowed.
    /// </summary>
    /// <exception cref="StructuredOutputException">No token of the vocabulary can continue the JSON.</exception>
    public void Mask(Span<float> logits, int tokensLeft = int.MaxValue)
    {
        if (!Allow(tokensLeft) && !Allow(int.MaxValue))
            throw new StructuredOutputException("No token of the vocabulary can continue the JSON generated so far.");
        for (int i = 0; i < logits.Length; i++)
            if (i >= _allowed.Length || !_allowed[i]) logits[i] = float.NegativeInfinity;
    }

    /// <summary>Advances by <paramref name="token"/> (end-of-sequence: no change).</summary>
    /// <exception cref="StructuredOutputException">The token does not fit the grammar here.</exception>
    public void Accept(int token)
    {
        if (token == _eos) return;
        var bytes = (uint)token < (uint)_trie.Bytes.Length ? _trie.Bytes[token] : null;
        _state = (bytes is null ? null : _state.Feed(bytes))
            ?? throw new StructuredOutputException($"Token {token} does not continue the JSON generated so far.");
    }

    private bool Allow(int tokensLeft)
    {
        Array.Clear(_allowed);
        _budget = tokensLeft;
        _any = false;
        if (_eos is { } eos && (uint)eos < (uint)_allowed.Length && _state.CanStop)
        {
            _allowed[eos] = true;
            _any = true;
        }
        if (!_state.IsComplete) Walk(_trie.Root, _state);
        return _any;
    }

    private void Walk(TokenTrie.Node node, JsonGrammarState state)
    {
        for (int c = 0; c < node.Children.Length; c++)
        {
            var next = state.Feed(node.Labels[c]);
            if (next is null) continue;
            var child = node.Children[c];
            if (child.Tokens.Length > 0 && (_budget == int.MaxValue || next.MinBytesToFinish <= _budget - 1))
            {
                foreach (int t in child.Tokens) _allowed[t] = true;
                _any = true;
            }
            if (child.Children.Length > 0) Walk(child, next);
        }
    }
}
