namespace SeekSharp.Inference.Structured;

/// <summary>A number being written: -?(0|[1-9][0-9]*)(\.[0-9]+)? with bounded digits (no exponent); integers stop before the point.</summary>
internal sealed class NumberFrame : JsonFrame
{
    private enum Phase { Minus, Zero, Int, Dot, Frac }

    private readonly bool _integer;
    private Phase _phase;
    private int _digits;        // in the current part

    private NumberFrame(bool integer, JsonLimits limits) : base(limits) => _integer = integer;

    public static NumberFrame? Start(bool integer, byte b, JsonLimits limits)
    {
        var frame = new NumberFrame(integer, limits);
        switch (b)
        {
            case (byte)'-': frame._phase = Phase.Minus; return frame;
            case (byte)'0': frame._phase = Phase.Zero; return frame;
            case >= (byte)'1' and <= (byte)'9': frame._phase = Phase.Int; frame._digits = 1; return frame;
            default: return null;
        }
    }

    public override bool Done => false;
    public override bool CanEnd => _phase is Phase.Zero or Phase.Int or Phase.Frac;
    public override int MinBytesToFinish => CanEnd ? 0 : 1;

    public override (JsonFrame? Next, JsonFrame? Child) Feed(byte b)
    {
        bool digit = b is >= (byte)'0' and <= (byte)'9';
        switch (_phase)
        {
            case Phase.Minus when digit:
                return (With(b == '0' ? Phase.Zero : Phase.Int, 1), null);
            case Phase.Int when digit && _digits < Limits.MaxIntegerDigits:
                return (With(Phase.Int, _digits + 1), null);
            case Phase.Zero or Phase.Int when b == '.' && !_integer:
                return (With(Phase.Dot, 0), null);
            case Phase.Dot when digit:
                return (With(Phase.Frac, 1), null);
            case Phase.Frac when digit && _digits < Limits.MaxFractionDigits:
                return (With(Phase.Frac, _digits + 1), null);
            default:
                return (null, null);
        }
    }

    private NumberFrame With(Phase phase, int digits)
    {
        var next = Copy<NumberFrame>();
        next._phase = phase;
        next._digits = digits;
        return next;
    }
}
