namespace SeekSharp.Inference.Structured;

/// <summary>One of a few constant texts (true, false, null, enum values) being matched byte by byte.</summary>
internal sealed class LiteralFrame : JsonFrame
{
    private readonly IReadOnlyList<byte[]> _candidates;
    private ulong _mask;        // candidates still matching
    private int _pos;           // bytes matched

    private LiteralFrame(IReadOnlyList<byte[]> candidates, JsonLimits limits) : base(limits) => _candidates = candidates;

    public static LiteralFrame? Start(IReadOnlyList<byte[]> candidates, byte b, JsonLimits limits)
    {
        var frame = new LiteralFrame(candidates, limits) { _mask = candidates.Count >= 64 ? ulong.MaxValue : (1UL << candidates.Count) - 1 };
        return frame.Advance(b);
    }

    public override bool Done
    {
        get
        {
            for (int i = 0; i < _candidates.Count; i++)
                if ((_mask >> i & 1) != 0 && _candidates[i].Length > _pos) return false;
            return true;
        }
    }

    public override bool CanEnd
    {
        get
        {
            for (int i = 0; i < _candidates.Count; i++)
                if ((_mask >> i & 1) != 0 && _candidates[i].Length == _pos) return true;
            return false;
        }
    }

    public override int MinBytesToFinish
    {
        get
        {
            int min = int.MaxValue;
            for (int i = 0; i < _candidates.Count; i++)
                if ((_mask >> i & 1) != 0) min = Math.Min(min, _candidates[i].Length - _pos);
            return min;
        }
    }

    public override (JsonFrame? Next, JsonFrame? Child) Feed(byte b) => (Advance(b), null);

    private LiteralFrame? Advance(byte b)
    {
        ulong mask = 0;
        for (int i = 0; i < _candidates.Count; i++)
        {
            if ((_mask >> i & 1) == 0) continue;
            var c = _candidates[i];
            if (c.Length > _pos && c[_pos] == b) mask |= 1UL << i;
        }
        if (mask == 0) return null;
        var next = Copy<LiteralFrame>();
        next._mask = mask;
        next._pos = _pos + 1;
        return next;
    }
}
