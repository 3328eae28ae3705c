namespace SeekSharp.Inference.Structured;

/// <summary>
/// An object after its '{'. With a schema, keys are chosen among the properties not written yet (each at most once,
/// any order) and '}' is allowed once every required one is there; free-form (json_object), keys are any short
/// strings and values any JSON. Up to <see cref="JsonLimits.MaxWhitespace"/> whitespace bytes between tokens.
/// </summary>
internal sealed class ObjectFrame : JsonFrame
{
    private enum Phase { Open, InKey, AfterKey, AfterColon, AfterValue, AfterComma, Closed }

    private readonly JsonSchemaNode _schema;
    private readonly ulong _requiredMask;
    private Phase _phase;
    private int _whitespace;
    private ulong _used;        // properties written (or being written)
    private ulong _keyMask;     // InKey: properties whose key matches so far
    private int _keyPos;        // InKey: key bytes matched
    private int _current = -1;  // the property whose value comes next
    private int _members;

    public ObjectFrame(JsonSchemaNode schema, JsonLimits limits) : base(limits)
    {
        _schema = schema;
        for (int i = 0; i < schema.Properties.Count; i++)
            if (schema.Properties[i].Required) _requiredMask |= 1UL << i;
    }

    private IReadOnlyList<JsonProperty> Props => _schema.Properties;
    private ulong AllMask => Props.Count >= 64 ? ulong.MaxValue : (1UL << Props.Count) - 1;
    private bool CanClose => (_requiredMask & ~_used) == 0;
    private bool MoreKeys => _schema.FreeForm ? _members < _schema.MaxItems : (AllMask & ~_used) != 0;

    public override bool Done => _phase == Phase.Closed;

    public override int MinBytesToFinish
    {
        get
        {
            if (_schema.FreeForm)
                return _phase switch
                {
                    Phase.Open or Phase.AfterValue => 1,
                    Phase.AfterKey => 3,            // ':', a digit, '}'
                    Phase.AfterColon => 2,
                    Phase.AfterComma => 5,          // "":0}
                    _ => 0,
                };
            int rest = 0;               // each required property not written: ',' key ':' value
            for (int i = 0; i < Props.Count; i++)
                if (((_requiredMask & ~_used) >> i & 1) != 0) rest += Cost(i);
            return _phase switch
            {
                Phase.Open => rest == 0 ? 1 : rest,                 // the first needs no comma; '}'
                Phase.InKey => MinOver(_keyMask, _keyPos) + 1,
                Phase.AfterKey => 1 + Props[_current].Schema.MinBytes + rest + 1,
                Phase.AfterColon => Props[_current].Schema.MinBytes + rest + 1,
                Phase.AfterValue => rest + 1,
                Phase.AfterComma => MinOver(AllMask & ~_used, 0) + 1,
                _ => 0,
            };

            // Finishing a key among candidates: its rest, ':', its value, and the other required properties.
            int MinOver(ulong candidates, int pos)
            {
                int best = int.MaxValue;
                for (int i = 0; i < Props.Count; i++)
                {
                    if ((candidates >> i & 1) == 0) continue;
                    int own = Props[i].Key.Length - pos + 1 + Props[i].Schema.MinBytes;
                    int others = rest - (((_requiredMask & ~_used) >> i & 1) != 0 ? Cost(i) : 0);
                    best = Math.Min(best, own + others);
                }
                return best;
            }
        }
    }

    private int Cost(int i) => 2 + Props[i].Key.Length + Props[i].Schema.MinBytes;

    public override (JsonFrame? Next, JsonFrame? Child) Feed(byte b)
    {
        if (IsWhitespace(b) && _phase is not (Phase.InKey or Phase.Closed))
        {
            if (_whitespace >= Limits.MaxWhitespace) return (null, null);
            var w = Copy<ObjectFrame>();
            w._whitespace++;
            return (w, null);
        }
        switch (_phase)
        {
            case Phase.Open or Phase.AfterComma when b == '"' && MoreKeys:
                return StartKey();
            case Phase.Open or Phase.AfterValue when b == '}' && CanClose:
                return (With(Phase.Closed), null);
            case Phase.AfterValue when b == ',' && MoreKeys:
                return (With(Phase.AfterComma), null);
            case Phase.AfterKey when b == ':':
                return (With(Phase.AfterColon), null);
            case Phase.AfterColon:
                {
                    var value = _schema.FreeForm ? _schema.Items! : Props[_current].Schema;
                    if (Start(value, b, Limits) is not { } child) return (null, null);
                    var next = With(Phase.AfterValue);
                    next._members++;
                    return (next, child);
                }
            case Phase.InKey:
                return KeyByte(b);
            default:
                return (null, null);
        }
    }

    private (JsonFrame?, JsonFrame?) StartKey()
    {
        if (_schema.FreeForm) return (With(Phase.AfterKey), new StringFrame(0, Limits.MaxKeyLength, Limits));
        var next = With(Phase.InKey);
        next._keyMask = AllMask & ~_used;
        next._keyPos = 1;
        return (next, null);
    }

    private (JsonFrame?, JsonFrame?) KeyByte(byte b)
    {
        ulong mask = 0;
        int complete = -1;
        for (int i = 0; i < Props.Count; i++)
        {
            if ((_keyMask >> i & 1) == 0) continue;
            var key = Props[i].Key;
            if (key.Length <= _keyPos || key[_keyPos] != b) continue;
            mask |= 1UL << i;
            if (key.Length == _keyPos + 1) complete = i;     // an encoded name ends at its closing quote: no other matches
        }
        if (mask == 0) return (null, null);
        var next = Copy<ObjectFrame>();
        if (complete >= 0)
        {
            next._phase = Phase.AfterKey;
            next._current = complete;
            next._used |= 1UL << complete;
            next._whitespace = 0;
        }
        else
        {
            next._keyMask = mask;
            next._keyPos = _keyPos + 1;
        }
        return (next, null);
    }

    private ObjectFrame With(Phase phase)
    {
        var next = Copy<ObjectFrame>();
        next._phase = phase;
        next._whitespace = 0;
        return next;
    }
}
