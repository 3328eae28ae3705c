namespace SeekSharp.Inference.Structured;

/// <summary>
/// A string after its opening quote: well-formed UTF-8 (a token may end inside a character), no control characters,
/// the escapes \" \\ \/ \b \f \n \r \t (not \u), and a length in UTF-16 units between the schema's bounds.
/// </summary>
internal sealed class StringFrame : JsonFrame
{
    private readonly int _minLength, _maxLength;
    private int _length;        // UTF-16 units so far
    private bool _escape;       // after a backslash
    private bool _closed;
    private int _pending;       // UTF-8 continuation bytes still due
    private byte _lo = 0x80, _hi = 0xBF;   // the range of the next continuation byte

    public StringFrame(int minLength, int maxLength, JsonLimits limits) : base(limits)
    {
        _minLength = minLength;
        _maxLength = maxLength;
    }

    public override bool Done => _closed;

    public override int MinBytesToFinish => (_escape ? 1 : 0) + _pending + Math.Max(0, _minLength - _length - (_escape ? 1 : 0)) + 1;

    public override (JsonFrame? Next, JsonFrame? Child) Feed(byte b)
    {
        if (_closed) return (null, null);
        if (_pending > 0)
        {
            if (b < _lo || b > _hi) return (null, null);
            var n = Copy<StringFrame>();
            n._pending--;
            (n._lo, n._hi) = ((byte)0x80, (byte)0xBF);
            return (n, null);
        }
        if (_escape)
        {
            if (b is not ((byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')) return (null, null);
            var n = Copy<StringFrame>();
            n._escape = false;
            n._length++;
            return (n, null);
        }
        if (b == '"')
        {
            if (_length < _minLength) return (null, null);
            var n = Copy<StringFrame>();
            n._closed = true;
            return (n, null);
        }
        if (b < 0x20) return (null, null);
        (int units, int pending, byte lo, byte hi) = b switch
        {
            < 0x80 => (1, 0, (byte)0x80, (byte)0xBF),
            >= 0xC2 and <= 0xDF => (1, 1, (byte)0x80, (byte)0xBF),
            0xE0 => (1, 2, (byte)0xA0, (byte)0xBF),
            0xED => (1, 2, (byte)0x80, (byte)0x9F),
            >= 0xE1 and <= 0xEF => (1, 2, (byte)0x80, (byte)0xBF),
            0xF0 => (2, 3, (byte)0x90, (byte)0xBF),
            >= 0xF1 and <= 0xF3 => (2, 3, (byte)0x80, (byte)0xBF),
            0xF4 => (2, 3, (byte)0x80, (byte)0x8F),
            _ => (0, -1, (byte)0, (byte)0),
        };
        if (pending < 0 || _length + units > _maxLength) return (null, null);
        var next = Copy<StringFrame>();
        if (b == '\\')
        {
            next._escape = true;        // counted when the escape ends
            return (next, null);
        }
        next._length += units;
        next._pending = pending;
        (next._lo, next._hi) = (lo, hi);
        return (next, null);
    }
}
