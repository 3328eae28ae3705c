using System.Globalization;
using System.Text;

namespace SeekSharp.Tokenization.Jinja;

internal enum TokenKind { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct JinjaToken(TokenKind Kind, string Value, int Line)
{
    public override string ToString() => Kind switch
    {
        TokenKind.Text => "text",
        TokenKind.End => "end of template",
        TokenKind.String => $"'{Value}'",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Cuts a Jinja template into text and tag tokens, applying whitespace control the way Hugging Face's chat
/// template environment does: "{%-"/"-%}" strip white space on their side, trim_blocks drops the newline after a
/// block tag, lstrip_blocks drops spaces and tabs before a block tag on its own line ("{%+"/"+%}" opt out), and a
/// single trailing newline at the end of the template is dropped (keep_trailing_newline=False).
/// </summary>
internal sealed class JinjaLexer
{
    private readonly string _src;
    private readonly List<JinjaToken> _tokens = new();
    private int _pos;
    private int _line = 1;
    private bool _lineStarting = true;   // whether the last tag ended a line (Jinja's "line_starting")

    private JinjaLexer(string source)
    {
        // Jinja normalizes every line break in template text to "\n".
        _src = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (_src.EndsWith('\n'))
            _src = _src[..^1];
    }

    public static List<JinjaToken> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int tag = NextTagStart(_pos);
            string text = _src[_pos..(tag < 0 ? _src.Length : tag)];
            if (tag < 0)
            {
                EmitText(text);
                break;
            }
            char kind = _src[tag + 1];               // '{', '%' or '#'
            char modifier = tag + 2 < _src.Length ? _src[tag + 2] : '\0';
            bool isBlock = kind is '%' or '#';
            if (modifier == '-')
                text = text.TrimEnd();
            else if (isBlock && modifier != '+')
                text = LStripBlock(text);
            EmitText(text);
            _line += _src.AsSpan(_pos, tag - _pos).Count('\n');
            _pos = tag + 2 + (modifier is '-' or '+' ? 1 : 0);
            if (kind == '#')
                LexComment();
            else
                LexTag(kind == '{' ? TokenKind.VarBegin : TokenKind.BlockBegin);
        }
        _tokens.Add(new JinjaToken(TokenKind.End, "", _line));
    }

    private int NextTagStart(int from)
    {
        for (int i = _src.IndexOf('{', from); i >= 0 && i + 1 < _src.Length; i = _src.IndexOf('{', i + 1))
            if (_src[i + 1] is '{' or '%' or '#')
                return i;
        return -1;
    }

    // lstrip_blocks: white space between the start of the line and a block tag is dropped.
    private string LStripBlock(string text)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !_lineStarting)
            return text;
        return text.Length > lineStart && text.AsSpan(lineStart).Trim().IsEmpty ? text[..lineStart] : text;
    }

    private void EmitText(string text)
    {
        if (text.Length > 0)
            _tokens.Add(new JinjaToken(TokenKind.Text, text, _line));
    }

    private void LexComment()
    {
        int end = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0)
            throw Error("a comment '{#' is never closed");
        bool strip = end > _pos && _src[end - 1] == '-';
        _line += _src.AsSpan(_pos, end - _pos).Count('\n');
        _pos = end + 2;
        AfterTagClose(strip, isBlock: true, keepNewline: false);
    }

    private void LexTag(TokenKind begin)
    {
        int startLine = _line;
        _tokens.Add(new JinjaToken(begin, begin == TokenKind.VarBegin ? "{{" : "{%", _line));
        string close = begin == TokenKind.VarBegin ? "}}" : "%}";
        while (true)
        {
            SkipSpaces();
            if (_pos >= _src.Length)
                throw new TokenizerException($"chat template line {startLine}: a tag is never closed");
            // A close marker, possibly with '-' (strip after) or '+' (keep the newline).
            if (_src[_pos] is '-' or '+' && At(_pos + 1, close))
            {
                bool minus = _src[_pos] == '-';
                _pos += 3;
                _tokens.Add(new JinjaToken(begin == TokenKind.VarBegin ? TokenKind.VarEnd : TokenKind.BlockEnd, close, _line));
                AfterTagClose(strip: minus, isBlock: begin == TokenKind.BlockBegin, keepNewline: !minus);
                return;
            }
            if (At(_pos, close))
            {
                _pos += 2;
                _tokens.Add(new JinjaToken(begin == TokenKind.VarBegin ? TokenKind.VarEnd : TokenKind.BlockEnd, close, _line));
                AfterTagClose(strip: false, isBlock: begin == TokenKind.BlockBegin, keepNewline: false);
                return;
            }
            LexExpressionToken();
        }
    }

    private void AfterTagClose(bool strip, bool isBlock, bool keepNewline)
    {
        _lineStarting = false;
        if (strip)
        {
            while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos]))
            {
                _lineStarting = _src[_pos] == '\n';
                _line += _lineStarting ? 1 : 0;
                _pos++;
            }
        }
        else if (isBlock && !keepNewline && _pos < _src.Length && _src[_pos] == '\n')
        {
            _pos++;   // trim_blocks
            _line++;
            _lineStarting = true;
        }
    }

    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    private void LexExpressionToken()
    {
        char c = _src[_pos];
        if (char.IsLetter(c) || c == '_')
        {
            int start = _pos;
            while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_'))
                _pos++;
            _tokens.Add(new JinjaToken(TokenKind.Name, _src[start.._pos], _line));
        }
        else if (char.IsAsciiDigit(c))
            LexNumber();
        else if (c is '\'' or '"')
            _tokens.Add(new JinjaToken(TokenKind.String, LexString(c), _line));
        else
        {
            foreach (string op in Operators)
                if (At(_pos, op))
                {
                    _tokens.Add(new JinjaToken(TokenKind.Operator, op, _line));
                    _pos += op.Length;
                    return;
                }
            throw Error($"unexpected character '{c}' in a tag");
        }
    }

    private void LexNumber()
    {
        int start = _pos;
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_'))
            _pos++;
        bool isFloat = _pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]);
        if (isFloat)
        {
            _pos++;
            while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
                _pos++;
        }
        string text = _src[start.._pos].Replace("_", "");
        _tokens.Add(new JinjaToken(isFloat ? TokenKind.Float : TokenKind.Integer, text, _line));
    }

    // Python string literal escapes, which is what Jinja's lexer accepts.
    private string LexString(char quote)
    {
        var sb = new StringBuilder();
        _pos++;
        while (true)
        {
            if (_pos >= _src.Length)
                throw Error("a string literal is never closed");
            char c = _src[_pos++];
            if (c == quote)
                return sb.ToString();
            if (c == '\n')
                _line++;
            if (c != '\\' || _pos >= _src.Length)
            {
                sb.Append(c);
                continue;
            }
            char e = _src[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break;   // a backslash-newline continues the line
                case 'u' when _pos + 4 <= _src.Length:
                    sb.Append(HexEscape(4));
                    break;
                case 'x' when _pos + 2 <= _src.Length:
                    sb.Append(HexEscape(2));
                    break;
                default: sb.Append('\\').Append(e); break;   // Python keeps unknown escapes as written
            }
        }
    }

    private void SkipSpaces()
    {
        while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos]))
        {
            if (_src[_pos] == '\n')
                _line++;
            _pos++;
        }
    }

    private bool At(int i, string s) => string.CompareOrdinal(_src, i, s, 0, s.Length) == 0 && i + s.Length <= _src.Length;

    private TokenizerException Error(string what) => new($"chat template line {_line}: {what}");

    // The digits of a \uXXXX or \xXX escape, which must be hexadecimal (Python rejects the string otherwise).
    private char HexEscape(int digits)
    {
        var text = _src.AsSpan(_pos, digits);
        if (!int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
            throw Error($"'{(digits == 4 ? "\\u" : "\\x")}{text}' in a string literal is not a hexadecimal escape");
        _pos += digits;
        return (char)code;
    }
}
