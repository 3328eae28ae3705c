using System.Text.Json;

namespace SeekSharp.Training.Data;

/// <summary>JSONL files (one JSON value per line, blank lines skipped), read with errors that name the file and line.</summary>
public static class JsonLines
{
    /// <summary>Parses every non-blank line of <paramref name="path"/> with <paramref name="parse"/>.</summary>
    /// <exception cref="InvalidInputException">The file is missing (named as <paramref name="what"/>), or a line is not valid JSON or not what <paramref name="parse"/> expects.</exception>
    public static List<T> Read<T>(string path, string what, Func<JsonElement, T> parse)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{what} not found: {path}");
        var items = new List<T>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                items.Add(parse(doc.RootElement));
            }
            catch (JsonException e) { throw new InvalidInputException($"{path}:{lineNumber}: not valid JSON: {e.Message}", e); }
            // "\ud800" is valid JSON but not valid UTF-16 once unescaped; System.Text.Json throws this when it is read.
            catch (InvalidOperationException e) { throw new InvalidInputException($"{path}:{lineNumber}: a string is not valid UTF-16 once unescaped: {e.Message}", e); }
            catch (SeekSharpException e) { throw new InvalidInputException($"{path}:{lineNumber}: {e.Message}", e); }
        }
        return items;
    }
}
