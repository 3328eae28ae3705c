using System.Globalization;

namespace SeekSharp.Training;

/// <summary>Numbers with a decimal magnitude suffix, as people write token counts and GPU-hours: 14.8T, 2.664M, 180K.</summary>
public static class Quantity
{
    private static readonly Dictionary<char, decimal> Multipliers = new()
    {
        ['K'] = 1e3m, ['M'] = 1e6m, ['B'] = 1e9m, ['G'] = 1e9m, ['T'] = 1e12m,
    };

    /// <summary>
    /// Parses a number with an optional K (10³), M (10⁶), B or G (10⁹) or T (10¹²) suffix, case-insensitive;
    /// plain and exponent forms (1.48e13) work too. Parsed in decimal so 14.8T is exactly 1.48e13.
    /// Anything else is an <see cref="InvalidInputException"/> naming <paramref name="what"/>. The sign is kept:
    /// callers decide what range is valid.
    /// </summary>
    public static double Parse(string text, string what)
    {
        var s = text.Trim().Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
        decimal multiplier = 1;
        if (s.Length > 0 && Multipliers.TryGetValue(char.ToUpperInvariant(s[^1]), out var m))
        {
            multiplier = m;
            s = s[..^1];
        }
        if (!decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            throw new InvalidInputException($"{what}: '{text}' is not a number (digits with an optional K, M, B or T suffix, e.g. 14.8T).");
        try
        {
            return (double)(value * multiplier);
        }
        catch (OverflowException)
        {
            throw new InvalidInputException($"{what}: '{text}' is too large.");
        }
    }
}
