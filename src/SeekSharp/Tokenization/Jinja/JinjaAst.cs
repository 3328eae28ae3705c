using System.Text;

namespace SeekSharp.Tokenization.Jinja;

/// <summary>Variables in scope while rendering: a stack of frames (a for loop or macro call pushes one).</summary>
internal sealed class JinjaContext
{
    private readonly List<Dictionary<string, object?>> _frames = [new()];

    public JinjaContext(IReadOnlyDictionary<string, object?> variables)
    {
        foreach (var (name, value) in variables)
            _frames[0][name] = value;
    }

    public object? Get(string name)
    {
        for (int i = _frames.Count - 1; i >= 0; i--)
            if (_frames[i].TryGetValue(name, out var v))
                return v;
        return JinjaBuiltins.Global(name) ?? new Undefined(name);
    }

    public void Set(string name, object? value) => _frames[^1][name] = value;

    public void Push() => _frames.Add(new Dictionary<string, object?>());

    public void Pop() => _frames.RemoveAt(_frames.Count - 1);
}

internal enum Flow { Normal, Break, Continue }

// ---------------------------------------------------------------- statements

internal abstract record Node(int Line)
{
    public abstract Flow Render(JinjaContext ctx, StringBuilder output);

    public static Flow RenderAll(IReadOnlyList<Node> body, JinjaContext ctx, StringBuilder output)
    {
        JinjaBudget.CheckStack();
        foreach (var node in body)
        {
            Flow flow;
            try
            {
                flow = node.Render(ctx, output);
            }
            catch (JinjaError e) when (!e.Message.StartsWith("line ", StringComparison.Ordinal))
            {
                throw new JinjaError($"line {node.Line}: {e.Message}");
            }
            if (flow != Flow.Normal)
                return flow;
        }
        return Flow.Normal;
    }
}

internal sealed record TextNode(int Line, string Text) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output)
    {
        output.Append(Text);
        JinjaBudget.CheckLength(output.Length, "the output");
        return Flow.Normal;
    }
}

internal sealed record OutputNode(int Line, Expr Value) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output)
    {
        output.Append(JinjaValues.ToStr(Value.Eval(ctx)));
        JinjaBudget.CheckLength(output.Length, "the output");
        return Flow.Normal;
    }
}

internal sealed record IfNode(int Line, List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output)
    {
        foreach (var (condition, body) in Branches)
            if (JinjaValues.IsTruthy(condition.Eval(ctx)))
                return RenderAll(body, ctx, output);
        return Else is null ? Flow.Normal : RenderAll(Else, ctx, output);
    }
}

internal sealed record ForNode(int Line, string[] Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output)
    {
        var items = JinjaValues.Iterate(Iterable.Eval(ctx));
        ctx.Push();
        try
        {
            if (Filter is not null)   // "for x in xs if cond": the loop (and loop.length) sees only the kept items
            {
                var kept = new List<object?>();
                foreach (var item in items)
                {
                    Bind(ctx, item);
                    if (JinjaValues.IsTruthy(Filter.Eval(ctx)))
                        kept.Add(item);
                }
                items = kept;
            }
            var loop = new LoopInfo(items);
            for (int i = 0; i < items.Count; i++)
            {
                JinjaBudget.Spend(1);
                loop.Index0 = i;
                ctx.Set("loop", loop);
                Bind(ctx, items[i]);
                if (RenderAll(Body, ctx, output) == Flow.Break)
                    break;
            }
        }
        finally
        {
            ctx.Pop();
        }
        if (items.Count == 0 && Else is not null)
            return RenderAll(Else, ctx, output);
        return Flow.Normal;
    }

    private void Bind(JinjaContext ctx, object? item)
    {
        if (Targets.Length == 1)
        {
            ctx.Set(Targets[0], item);
            return;
        }
        var parts = JinjaValues.Iterate(item);
        if (parts.Count != Targets.Length)
            throw new JinjaError($"cannot unpack {parts.Count} values into {Targets.Length} loop variables");
        for (int i = 0; i < Targets.Length; i++)
            ctx.Set(Targets[i], parts[i]);
    }
}

/// <summary><c>set x = v</c>, <c>set a, b = v</c>, <c>set ns.attr = v</c>, or the block form <c>set x %}...{% endset</c>.</summary>
internal sealed record SetNode(int Line, string[] Names, string? Attribute, Expr? Value, List<Node>? Body) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output)
    {
        object? value;
        if (Body is not null)
        {
            var captured = new StringBuilder();
            RenderAll(Body, ctx, captured);
            value = captured.ToString();
        }
        else
            value = Value!.Eval(ctx);
        if (Attribute is not null)
        {
            if (ctx.Get(Names[0]) is not JinjaNamespace ns)
                throw new JinjaError($"'{Names[0]}' is not a namespace, so '{Names[0]}.{Attribute}' cannot be set");
            ns.Attributes[Attribute] = value;
        }
        else if (Names.Length == 1)
            ctx.Set(Names[0], value);
        else
        {
            var parts = JinjaValues.Iterate(value);
            if (parts.Count != Names.Length)
                throw new JinjaError($"cannot unpack {parts.Count} values into {Names.Length} names");
            for (int i = 0; i < Names.Length; i++)
                ctx.Set(Names[i], parts[i]);
        }
        return Flow.Normal;
    }
}

internal sealed record LoopControlNode(int Line, Flow Flow) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output) => Flow;
}

/// <summary>A body rendered as is: Hugging Face's <c>{% generation %}</c> marker (for assistant masks).</summary>
internal sealed record BlockNode(int Line, List<Node> Body) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output) => RenderAll(Body, ctx, output);
}

internal sealed record MacroNode(int Line, string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body) : Node(Line)
{
    public override Flow Render(JinjaContext ctx, StringBuilder output)
    {
        ctx.Set(Name, new JinjaFunction((args, kwargs) =>
        {
            if (args.Count > Parameters.Count)
                throw new JinjaError($"macro '{Name}' takes {Parameters.Count} arguments, got {args.Count}");
            using var call = JinjaBudget.EnterCall(Name);
            ctx.Push();
            try
            {
                for (int i = 0; i < Parameters.Count; i++)
                {
                    var (name, fallback) = Parameters[i];
                    object? value = i < args.Count ? args[i]
                        : kwargs.TryGetValue(name, out var kw) ? kw
                        : fallback is not null ? fallback.Eval(ctx) : new Undefined(name);
                    ctx.Set(name, value);
                }
                var sb = new StringBuilder();
                RenderAll(Body, ctx, sb);
                return sb.ToString();
            }
            finally
            {
                ctx.Pop();
            }
        }));
        return Flow.Normal;
    }
}

// ---------------------------------------------------------------- expressions

internal abstract record Expr
{
    public object? Eval(JinjaContext ctx)
    {
        JinjaBudget.CheckStack();
        return EvalCore(ctx);
    }

    protected abstract object? EvalCore(JinjaContext ctx);
}

internal sealed record Literal(object? Value) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) => Value;
}

internal sealed record NameExpr(string Name) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) => ctx.Get(Name);
}

internal sealed record ListExpr(List<Expr> Items) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) => Items.Select(i => i.Eval(ctx)).ToList();
}

internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items) : Expr
{
    protected override object? EvalCore(JinjaContext ctx)
    {
        var d = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in Items)
            d[k.Eval(ctx) as string ?? throw new JinjaError("dict keys must be strings")] = v.Eval(ctx);
        return d;
    }
}

/// <summary><c>x.name</c> (attribute first, then item) or <c>x[key]</c> (item first, then attribute).</summary>
internal sealed record GetExpr(Expr Target, Expr Key, bool IsAttribute) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) => JinjaBuiltins.Get(Target.Eval(ctx), Key.Eval(ctx), IsAttribute);
}

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) =>
        JinjaBuiltins.Slice(Target.Eval(ctx), Start?.Eval(ctx), Stop?.Eval(ctx), Step?.Eval(ctx));
}

internal sealed record CallExpr(Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr
{
    protected override object? EvalCore(JinjaContext ctx)
    {
        var callee = Callee.Eval(ctx);
        var args = Args.Select(a => a.Eval(ctx)).ToList();
        var kwargs = Kwargs.ToDictionary(k => k.Name, k => k.Value.Eval(ctx));
        return JinjaBudget.Built(JinjaBuiltins.Call(callee, args, kwargs, Callee));
    }
}

internal sealed record FilterExpr(Expr Value, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) =>
        JinjaBudget.Built(JinjaBuiltins.Filter(Name, Value.Eval(ctx), Args.Select(a => a.Eval(ctx)).ToList(),
            Kwargs.ToDictionary(k => k.Name, k => k.Value.Eval(ctx))));
}

internal sealed record TestExpr(Expr Value, string Name, List<Expr> Args, bool Negated) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) =>
        JinjaBuiltins.Test(Name, Value.Eval(ctx), Args.Select(a => a.Eval(ctx)).ToList()) != Negated;
}

internal sealed record NotExpr(Expr Operand) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) => !JinjaValues.IsTruthy(Operand.Eval(ctx));
}

internal sealed record NegateExpr(Expr Operand) : Expr
{
    // Each arm boxed on its own: a switch over long and double arms would otherwise make every result a double.
    protected override object? EvalCore(JinjaContext ctx) => Operand.Eval(ctx) switch
    {
        long i => (object)(-i),
        double d => (object)(-d),
        bool b => (object)(b ? -1L : 0L),
        var v => throw new JinjaError($"cannot negate {JinjaValues.TypeName(v)}"),
    };
}

/// <summary><c>and</c>/<c>or</c> return one of their operands, as in Python, and evaluate the right one only if needed.</summary>
internal sealed record LogicExpr(string Op, Expr Left, Expr Right) : Expr
{
    protected override object? EvalCore(JinjaContext ctx)
    {
        var left = Left.Eval(ctx);
        bool truthy = JinjaValues.IsTruthy(left);
        return Op == "and" ? (truthy ? Right.Eval(ctx) : left) : (truthy ? left : Right.Eval(ctx));
    }
}

internal sealed record BinaryExpr(string Op, Expr Left, Expr Right) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) => JinjaBudget.Built(JinjaBuiltins.Binary(Op, Left.Eval(ctx), Right.Eval(ctx)));
}

/// <summary>A chain such as <c>a &lt; b &lt;= c</c>: true when every adjacent comparison is.</summary>
internal sealed record CompareExpr(Expr First, List<(string Op, Expr Operand)> Rest) : Expr
{
    protected override object? EvalCore(JinjaContext ctx)
    {
        var left = First.Eval(ctx);
        foreach (var (op, operand) in Rest)
        {
            var right = operand.Eval(ctx);
            if (!JinjaBuiltins.Compare(op, left, right))
                return false;
            left = right;
        }
        return true;
    }
}

internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else) : Expr
{
    protected override object? EvalCore(JinjaContext ctx) =>
        JinjaValues.IsTruthy(Condition.Eval(ctx)) ? Then.Eval(ctx) : Else is null ? new Undefined("else branch") : Else.Eval(ctx);
}
