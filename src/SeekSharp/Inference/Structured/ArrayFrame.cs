namespace SeekSharp.Inference.Structured;

/// <summary>An array after its '[': items of the item schema, between minItems and maxItems (or <see cref="JsonLimits.MaxItems"/>).</summary>
internal sealed class ArrayFrame : JsonFrame
{
    private enum Phase { Open, AfterValue, AfterComma, Closed }

    private readonly JsonSchemaNode _schema;
    private readonly int _max;
    private Phase _phase;
    private int _count;
    private int _whitespace;

    public ArrayFrame(JsonSchemaNode schema, JsonLimits limits) : base(limits)
    {
        _schema = schema;
        _max = Math.Min(schema.MaxItems, limits.MaxItems);
    }

    public override bool Done => _phase == Phase.Closed;

    public override int MinBytesToFinish
    {
        get
        {
            int item = _schema.Items!.MinBytes;
            int missing = Math.Max(0, _schema.MinItems - _count);
            return _phase switch
            {
                Phase.Open => missing == 0 ? 1 : missing * (item + 1),
                Phase.AfterValue => missing * (item + 1) + 1,
                Phase.AfterComma => item + Math.Max(0, missing - 1) * (item + 1) + 1,
                _ => 0,
            };
        }
    }

    public override (JsonFrame? Next, JsonFrame? Child) Feed(byte b)
    {
        if (IsWhitespace(b) && _phase != Phase.Closed)
        {
            if (_whitespace >= Limits.MaxWhitespace) return (null, null);
            var w = Copy<ArrayFrame>();
            w._whitespace++;
            return (w, null);
        }
        switch (_phase)
        {
            case Phase.Open when b == ']' && _schema.MinItems == 0:
            case Phase.AfterValue when b == ']' && _count >= _schema.MinItems:
                return (With(Phase.Closed, _count), null);
            case Phase.AfterValue when b == ',' && _count < _max:
                return (With(Phase.AfterComma, _count), null);
            case Phase.Open when _max > 0:
            case Phase.AfterComma:
                return Start(_schema.Items!, b, Limits) is { } child ? (With(Phase.AfterValue, _count + 1), child) : (null, null);
            default:
                return (null, null);
        }
    }

    private ArrayFrame With(Phase phase, int count)
    {
        var next = Copy<ArrayFrame>();
        next._phase = phase;
        next._count = count;
        next._whitespace = 0;
        return next;
    }
}
