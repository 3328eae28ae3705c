using System.Text;

namespace SeekSharp.Tokenization.Jinja;

/// <summary>A parsed template: parse once, render many times (rendering keeps no state between calls).</summary>
internal sealed class JinjaTemplate
{
    private readonly List<Node> _body;

    private JinjaTemplate(List<Node> body) => _body = body;

    /// <exception cref="TokenizerException">The template uses a construct outside the supported subset, or is malformed.</exception>
    public static JinjaTemplate Parse(string source) => new(JinjaParser.Parse(source));

    /// <exception cref="TokenizerException">Rendering failed (an undefined value used, raise_exception called, ...).</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        var output = new StringBuilder();
        using var budget = JinjaBudget.Begin();
        try
        {
            Node.RenderAll(_body, new JinjaContext(variables), output);
        }
        catch (JinjaError e)
        {
            throw new TokenizerException($"chat template {e.Message}", e);
        }
        return output.ToString();
    }
}
