namespace SeekSharp.Inference;

/// <summary>
/// Ends generation on any of several stop strings, matched in the decoded text as it streams, across token
/// boundaries. It never shows any part of a stop: a tail of the text that could still grow into a stop is held
/// back until the next piece decides it, and when a stop completes, it and everything after it are dropped.
/// </summary>
/// <remarks>
/// The result does not depend on how the text is cut into pieces. Generation stops where a stop string first
/// <i>ends</i>, exactly as if the text arrived one character at a time; if several stops end there ("abc" and "bc"),
/// the longest is the match, so none of it is shown. Matching is ordinal (UTF-16 code units, case-sensitive, no
/// normalisation), and a held tail never ends between the two halves of a surrogate pair.
/// </remarks>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private string _held = "";

    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        _stops = new string[stops.Count];
        for (int i = 0; i < stops.Count; i++)
        {
            if (string.IsNullOrEmpty(stops[i])) throw new InvalidInputException($"Stop string {i} is empty; it would stop before any text.");
            _stops[i] = stops[i];
        }
    }

    public IReadOnlyList<string> Stops => _stops;

    /// <summary>The stop string that ended generation, or null while it goes on.</summary>
    public string? MatchedStop { get; private set; }

    public bool Stopped => MatchedStop is not null;

    /// <summary>
    /// Takes the next decoded piece (possibly empty) and returns what can be shown now. Once stopped, every further
    /// call returns nothing and the same stop.
    /// </summary>
    public StopResult Append(string piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        if (Stopped) return new StopResult("", true, MatchedStop);
        string text = _held + piece;
        var (start, stop) = FirstCompletedStop(text);
        if (stop is not null)
        {
            _held = "";
            MatchedStop = stop;
            return new StopResult(text[..start], true, stop);
        }
        int hold = HeldTailLength(text);
        _held = text[^hold..];
        return new StopResult(text[..^hold], false, null);
    }

    /// <summary>At the end of generation: the held-back tail, which turned out not to be a stop ("" once stopped).</summary>
    public string Flush()
    {
        string held = _held;
        _held = "";
        return held;
    }

    /// <summary>Forgets the held tail and the match, to reuse the matcher for another generation.</summary>
    public void Reset()
    {
        _held = "";
        MatchedStop = null;
    }

    /// <summary>
    /// The stop that ends first in <paramref name="text"/> (the longest of those ending at the same place) and where
    /// it starts. Any stop ending inside the previously held tail would have been found by the previous call, so a
    /// search of held + piece finds the first one of the whole stream.
    /// </summary>
    private (int Start, string? Stop) FirstCompletedStop(string text)
    {
        int bestStart = -1, bestEnd = int.MaxValue;
        string? best = null;
        foreach (string stop in _stops)
        {
            int start = text.IndexOf(stop, StringComparison.Ordinal);   // a stop's first start is also its first end
            if (start < 0) continue;
            int end = start + stop.Length;
            if (end < bestEnd || (end == bestEnd && start < bestStart)) (bestStart, bestEnd, best) = (start, end, stop);
        }
        return (bestStart, best);
    }

    /// <summary>
    /// The length of the longest tail of <paramref name="text"/> that is a proper prefix of some stop (it may still
    /// become that stop), plus a dangling high surrogate, so that a shown string never splits a pair.
    /// </summary>
    private int HeldTailLength(string text)
    {
        int hold = 0;
        foreach (string stop in _stops)
        {
            for (int k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }
        if (hold < text.Length && char.IsHighSurrogate(text[text.Length - hold - 1])) hold++;
        return hold;
    }
}
