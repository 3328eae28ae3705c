using System.Globalization;

namespace SeekSharp.Tokenization.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja subset chat templates use. Statements: if/elif/else, for (with tuple
/// targets, an inline filter, else, loop.*), set (plain, tuple, namespace attribute, block), macro, break/continue,
/// generation. Expressions with Jinja's precedence, from loosest: x if c else y; or; and; not; comparisons, in,
/// not in; + -; ~; * / // %; **; unary -; then postfix . [] [a:b] () and the filter (|) and test (is) chains.
/// Anything else is an error naming the construct and its line, never silently wrong output.
/// </summary>
internal sealed class JinjaParser
{
    private readonly List<JinjaToken> _tokens;
    private int _i;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static List<Node> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBody([]);
        if (parser.Peek.Kind != TokenKind.End)
            throw parser.Error($"unexpected '{{% {parser.PeekTagName()} %}}'");
        return body;
    }

    private JinjaToken Peek => _tokens[_i];
    private JinjaToken Next() => _tokens[_i++];

    private List<Node> ParseBody(string[] endTags)
    {
        CheckStack();
        var body = new List<Node>();
        while (true)
        {
            var t = Peek;
            switch (t.Kind)
            {
                case TokenKind.End:
                    if (endTags.Length > 0)
                        throw Error($"the template ends before '{{% {endTags[^1]} %}}'");
                    return body;
                case TokenKind.Text:
                    _i++;
                    body.Add(new TextNode(t.Line, t.Value));
                    break;
                case TokenKind.VarBegin:
                    _i++;
                    var value = ParseExpression();
                    Expect(TokenKind.VarEnd, "}}");
                    body.Add(new OutputNode(t.Line, value));
                    break;
                case TokenKind.BlockBegin:
                    string tag = PeekTagName();
                    if (endTags.Contains(tag))
                        return body;
                    _i += 2;
                    body.Add(ParseStatement(tag, t.Line));
                    break;
                default:
                    throw Error($"unexpected {t}");
            }
        }
    }

    private string PeekTagName() =>
        _tokens[_i + 1].Kind == TokenKind.Name ? _tokens[_i + 1].Value : throw Error("a '{%' tag must start with a name");

    private Node ParseStatement(string tag, int line)
    {
        switch (tag)
        {
            case "if": return ParseIf(line);
            case "for": return ParseFor(line);
            case "set": return ParseSet(line);
            case "macro": return ParseMacro(line);
            case "break" or "continue":
                Expect(TokenKind.BlockEnd, "%}");
                return new LoopControlNode(line, tag == "break" ? Flow.Break : Flow.Continue);
            case "generation":
                Expect(TokenKind.BlockEnd, "%}");
                var body = ParseBody(["endgeneration"]);
                EndTag("endgeneration");
                return new BlockNode(line, body);
            default:
                throw Error($"'{{% {tag} %}}' is not supported by SeekSharp's chat template engine");
        }
    }

    private Node ParseIf(int line)
    {
        var branches = new List<(Expr, List<Node>)>();
        List<Node>? elseBody = null;
        var condition = ParseExpression();
        while (true)
        {
            Expect(TokenKind.BlockEnd, "%}");
            var body = ParseBody(["elif", "else", "endif"]);
            branches.Add((condition, body));
            string tag = PeekTagName();
            _i += 2;
            if (tag == "elif")
            {
                condition = ParseExpression();
                continue;
            }
            if (tag == "else")
            {
                Expect(TokenKind.BlockEnd, "%}");
                elseBody = ParseBody(["endif"]);
                EndTag("endif");
            }
            else
                Expect(TokenKind.BlockEnd, "%}");
            return new IfNode(line, branches, elseBody);
        }
    }

    private Node ParseFor(int line)
    {
        var targets = new List<string> { ExpectName() };
        while (AcceptOp(","))
            targets.Add(ExpectName());
        ExpectKeyword("in");
        var iterable = ParseOr();   // no conditional here: "if" starts the loop filter
        Expr? filter = AcceptKeyword("if") ? ParseOr() : null;
        if (AcceptKeyword("recursive"))
            throw Error("recursive for loops are not supported");
        Expect(TokenKind.BlockEnd, "%}");
        var body = ParseBody(["else", "endfor"]);
        List<Node>? elseBody = null;
        if (PeekTagName() == "else")
        {
            _i += 2;
            Expect(TokenKind.BlockEnd, "%}");
            elseBody = ParseBody(["endfor"]);
        }
        EndTag("endfor");
        return new ForNode(line, targets.ToArray(), iterable, filter, body, elseBody);
    }

    private Node ParseSet(int line)
    {
        var names = new List<string> { ExpectName() };
        string? attribute = null;
        if (AcceptOp("."))
            attribute = ExpectName();
        else
            while (AcceptOp(","))
                names.Add(ExpectName());
        if (AcceptOp("="))
        {
            var value = ParseTupleOrExpression();
            Expect(TokenKind.BlockEnd, "%}");
            return new SetNode(line, names.ToArray(), attribute, value, null);
        }
        Expect(TokenKind.BlockEnd, "%}");
        var body = ParseBody(["endset"]);
        EndTag("endset");
        return new SetNode(line, names.ToArray(), attribute, null, body);
    }

    private Node ParseMacro(int line)
    {
        string name = ExpectName();
        var parameters = new List<(string, Expr?)>();
        ExpectOp("(");
        while (!AcceptOp(")"))
        {
            string p = ExpectName();
            parameters.Add((p, AcceptOp("=") ? ParseExpression() : null));
            if (!AcceptOp(","))
            {
                ExpectOp(")");
                break;
            }
        }
        Expect(TokenKind.BlockEnd, "%}");
        var body = ParseBody(["endmacro"]);
        EndTag("endmacro");
        return new MacroNode(line, name, parameters, body);
    }

    private void EndTag(string name)
    {
        Expect(TokenKind.BlockBegin, "{%");
        ExpectKeyword(name);
        Expect(TokenKind.BlockEnd, "%}");
    }

    // ------------------------------------------------------------ expressions

    private Expr ParseTupleOrExpression()
    {
        var first = ParseExpression();
        if (!IsOp(","))
            return first;
        var items = new List<Expr> { first };
        while (AcceptOp(",") && !IsEndOfTag())
            items.Add(ParseExpression());
        return new ListExpr(items);
    }

    private Expr ParseExpression()
    {
        CheckStack();
        var value = ParseOr();
        if (!AcceptKeyword("if"))
            return value;
        var condition = ParseOr();
        var otherwise = AcceptKeyword("else") ? ParseExpression() : null;
        return new ConditionalExpr(condition, value, otherwise);
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (AcceptKeyword("or"))
            left = new LogicExpr("or", left, ParseAnd());
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (AcceptKeyword("and"))
            left = new LogicExpr("and", left, ParseNot());
        return left;
    }

    private Expr ParseNot()
    {
        CheckStack();
        return AcceptKeyword("not") ? new NotExpr(ParseNot()) : ParseCompare();
    }

    private Expr ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Peek.Kind == TokenKind.Operator && Peek.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
                rest.Add((Next().Value, ParseMath1()));
            else if (AcceptKeyword("in"))
                rest.Add(("in", ParseMath1()));
            else if (IsKeyword("not") && _tokens[_i + 1] is { Kind: TokenKind.Name, Value: "in" })
            {
                _i += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else
                break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (IsOp("+") || IsOp("-"))
            left = new BinaryExpr(Next().Value, left, ParseConcat());
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (AcceptOp("~"))
            left = new BinaryExpr("~", left, ParseMath2());
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))
            left = new BinaryExpr(Next().Value, left, ParsePow());
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary();
        while (AcceptOp("**"))
            left = new BinaryExpr("**", left, ParseUnary());
        return left;
    }

    private Expr ParseUnary()
    {
        CheckStack();
        if (AcceptOp("-"))
            return ParseFilters(new NegateExpr(ParseUnary()));
        if (AcceptOp("+"))
            return ParseUnary();
        return ParseFilters(ParsePostfix(ParsePrimary()));
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.String:
                string s = t.Value;
                while (Peek.Kind == TokenKind.String)   // adjacent literals concatenate
                    s += Next().Value;
                return new Literal(s);
            case TokenKind.Integer:
                return new Literal(Integer(t.Value));
            case TokenKind.Float:
                return new Literal(double.Parse(t.Value, CultureInfo.InvariantCulture));
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new Literal(true),
                    "false" or "False" => new Literal(false),
                    "none" or "None" => new Literal(null),
                    _ => new NameExpr(t.Value),
                };
            case TokenKind.Operator when t.Value == "(":
                if (AcceptOp(")"))
                    return new ListExpr([]);
                var inner = ParseTupleOrExpression();
                ExpectOp(")");
                return inner;
            case TokenKind.Operator when t.Value == "[":
                var items = new List<Expr>();
                while (!AcceptOp("]"))
                {
                    items.Add(ParseExpression());
                    if (!AcceptOp(","))
                    {
                        ExpectOp("]");
                        break;
                    }
                }
                return new ListExpr(items);
            case TokenKind.Operator when t.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!AcceptOp("}"))
                {
                    var key = ParseExpression();
                    ExpectOp(":");
                    pairs.Add((key, ParseExpression()));
                    if (!AcceptOp(","))
                    {
                        ExpectOp("}");
                        break;
                    }
                }
                return new DictExpr(pairs);
            default:
                _i--;
                throw Error($"expected a value, found {t}");
        }
    }

    private Expr ParsePostfix(Expr target)
    {
        while (true)
        {
            if (AcceptOp("."))
            {
                var t = Next();
                target = t.Kind switch
                {
                    TokenKind.Name => new GetExpr(target, new Literal(t.Value), IsAttribute: true),
                    TokenKind.Integer => new GetExpr(target, new Literal(Integer(t.Value)), IsAttribute: false),
                    _ => throw Error($"expected a name after '.', found {t}"),
                };
            }
            else if (AcceptOp("["))
                target = ParseSubscript(target);
            else if (IsOp("("))
                target = ParseCall(target);
            else
                return target;
        }
    }

    private Expr ParseSubscript(Expr target)
    {
        Expr? start = IsOp(":") ? null : ParseExpression();
        if (!AcceptOp(":"))
        {
            ExpectOp("]");
            return new GetExpr(target, start!, IsAttribute: false);
        }
        Expr? stop = IsOp(":") || IsOp("]") ? null : ParseExpression();
        Expr? step = AcceptOp(":") && !IsOp("]") ? ParseExpression() : null;
        ExpectOp("]");
        return new SliceExpr(target, start, stop, step);
    }

    private CallExpr ParseCall(Expr callee)
    {
        var (args, kwargs) = ParseArguments();
        return new CallExpr(callee, args, kwargs);
    }

    private (List<Expr>, List<(string, Expr)>) ParseArguments()
    {
        ExpectOp("(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!AcceptOp(")"))
        {
            if (Peek.Kind == TokenKind.Name && _tokens[_i + 1] is { Kind: TokenKind.Operator, Value: "=" })
            {
                string name = Next().Value;
                _i++;
                if (kwargs.Exists(k => k.Item1 == name))   // Python: "keyword argument repeated"
                    throw Error($"the keyword argument '{name}' is given twice");
                kwargs.Add((name, ParseExpression()));
            }
            else
                args.Add(ParseExpression());
            if (!AcceptOp(","))
            {
                ExpectOp(")");
                break;
            }
        }
        return (args, kwargs);
    }

    private Expr ParseFilters(Expr value)
    {
        while (true)
        {
            if (AcceptOp("|"))
            {
                string name = ExpectName();
                var (args, kwargs) = IsOp("(") ? ParseArguments() : ([], []);
                value = new FilterExpr(value, name, args, kwargs);
            }
            else if (AcceptKeyword("is"))
            {
                bool negated = AcceptKeyword("not");
                string name = ExpectName();
                var args = new List<Expr>();
                if (IsOp("("))
                    args = ParseArguments().Item1;
                else if (Peek.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || (Peek.Kind == TokenKind.Name && !IsReserved(Peek.Value)))
                    args.Add(ParsePrimary());   // "is divisibleby 3", "is sameas none"
                value = new TestExpr(value, name, args, negated);
            }
            else if (IsOp("("))
                value = ParseCall(value);
            else
                return value;
        }
    }

    private static bool IsReserved(string name) => name is "and" or "or" or "not" or "in" or "is" or "if" or "else";

    // ------------------------------------------------------------ token helpers

    private bool IsOp(string op) => Peek.Kind == TokenKind.Operator && Peek.Value == op;
    private bool IsKeyword(string name) => Peek.Kind == TokenKind.Name && Peek.Value == name;
    private bool IsEndOfTag() => Peek.Kind is TokenKind.BlockEnd or TokenKind.VarEnd;

    private bool AcceptOp(string op)
    {
        if (!IsOp(op))
            return false;
        _i++;
        return true;
    }

    private bool AcceptKeyword(string name)
    {
        if (!IsKeyword(name))
            return false;
        _i++;
        return true;
    }

    private void ExpectOp(string op)
    {
        if (!AcceptOp(op))
            throw Error($"expected '{op}', found {Peek}");
    }

    private void ExpectKeyword(string name)
    {
        if (!AcceptKeyword(name))
            throw Error($"expected '{name}', found {Peek}");
    }

    private string ExpectName() => Peek.Kind == TokenKind.Name ? Next().Value : throw Error($"expected a name, found {Peek}");

    private void Expect(TokenKind kind, string what)
    {
        if (Peek.Kind != kind)
            throw Error($"expected '{what}', found {Peek}");
        _i++;
    }

    private TokenizerException Error(string what) => new($"chat template line {Peek.Line}: {what}");

    // Python's integers are unbounded; SeekSharp's are 64-bit, and a literal past that is an error, not an overflow.
    private long Integer(string digits) =>
        long.TryParse(digits, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw Error($"the integer {(digits.Length > 30 ? digits[..30] + "…" : digits)} does not fit in 64 bits");

    // Brackets, "not"s and blocks nested thousands deep would overflow the stack of this recursive-descent parser.
    private void CheckStack()
    {
        if (!System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Error("the template nests too deeply to parse");
    }
}
