using SeekSharp.Tensors;

namespace SeekSharp.Inference;

/// <summary>
/// The rejection rule of speculative sampling (Leviathan et al. 2023; Chen et al. 2023; docs/architecture.md §9.4), which makes
/// drafting exact: a token x drafted from the draft distribution q is kept with probability min(1, p(x) / q(x));
/// otherwise a replacement is drawn from the residual r = max(0, p − q) / Σ max(0, p − q). The token that comes
/// out is then distributed exactly as p:
/// <code>
///   P(y) = q(y)·min(1, p(y)/q(y)) + (1 − Σ_x min(p(x), q(x))) · r(y) = min(p(y), q(y)) + max(0, p(y) − q(y)) = p(y)
/// </code>
/// and a draft is accepted with probability Σ_x min(p(x), q(x)). Greedy verification is the special case where p
/// and q are one-hot (what <see cref="Sampler.Distribution"/> returns at temperature 0): accept iff the argmaxes agree,
/// else take the target's argmax.
/// </summary>
public static class SpeculativeAcceptance
{
    /// <summary>
    /// Whether to keep <paramref name="drafted"/>, drawn from <paramref name="q"/> (the draft's distribution),
    /// given the target's distribution <paramref name="p"/> at the same position. <paramref name="corrected"/> is
    /// the token to emit: <paramref name="drafted"/> when accepted, else a draw from the normalised max(0, p − q).
    /// Both distributions must be over the same vocabulary and normalised (as <see cref="Sampler.Distribution"/>
    /// writes them). Uses one uniform number when p(x) &lt; q(x), and one more on rejection.
    /// </summary>
    public static bool Accept(ReadOnlySpan<float> p, ReadOnlySpan<float> q, int drafted, ref Rng rng, out int corrected)
    {
        if (p.Length != q.Length) throw new InvalidInputException($"Speculative acceptance: target has {p.Length} probabilities, draft {q.Length}.");
        if ((uint)drafted >= (uint)p.Length) throw new InvalidInputException($"Drafted token {drafted} is outside the vocabulary [0, {p.Length}).");
        float pd = p[drafted], qd = q[drafted];
        if (!(qd > 0)) throw new InvalidInputException($"Drafted token {drafted} has draft probability {qd}: it cannot have been drawn from q.");

        // Accept with probability min(1, p/q); u·q < p avoids the division and always holds when p ≥ q, in which
        // case no random number is needed.
        if (pd >= qd || rng.NextDouble() * qd < pd)
        {
            corrected = drafted;
            return true;
        }
        corrected = DrawResidual(p, q, ref rng);
        return false;
    }

    /// <summary>A token drawn from max(0, p − q), normalised; from p itself if rounding left the residual empty.</summary>
    private static int DrawResidual(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ref Rng rng)
    {
        double total = 0;
        for (int i = 0; i < p.Length; i++) total += Residual(p[i], q[i]);
        // A rejection means p(x) < q(x) for the draft, so Σ max(0, p − q) = Σ max(0, q − p) > 0 exactly; in floats
        // a p equal to q up to rounding can leave nothing, and then p is the right distribution to fall back on.
        if (!(total > 0)) return Categorical.Draw(p, Categorical.Total(p), ref rng);
        double u = rng.NextDouble() * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < p.Length; i++)
        {
            float r = Residual(p[i], q[i]);
            if (r == 0) continue;
            cumulative += r;
            last = i;
            if (u < cumulative) return i;
        }
        return last;
    }

    private static float Residual(float p, float q) => p > q ? p - q : 0;
}
