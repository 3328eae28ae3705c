namespace SeekSharp.Model;

/// <summary>
/// Rotary position embedding of the decoupled rotary dims (q^R per head, the shared k^R), with YaRN (architecture.md §4.3, §5).
/// </summary>
/// <remarks>
/// Layout: DeepSeek's official interleaved pairs: (x_{2j}, x_{2j+1}) is rotated by m·θ'_j. Hugging Face checkpoints are
/// used as they are (no row permutation), exactly as the official code does.
/// <para>YaRN, as Hugging Face applies it whenever rope_scaling.type = yarn: θ'_j = θ_j·[γ_j + (1−γ_j)/s] with a linear ramp
/// between the correction dims; the softmax scale gains m² with m = 0.1·mscale_all_dim·ln s + 1, and cos/sin are scaled by
/// mscale(mscale)/mscale(mscale_all_dim), which is 1 for every DeepSeek release. Frequencies and angles are computed in
/// float32 with the reference code's operation order, so positions far out still match it.</para>
/// </remarks>
public sealed class Rope
{
    private readonly object _grow = new();
    private float[] _cos = Array.Empty<float>();
    private float[] _sin = Array.Empty<float>();
    private int _capacity;

    /// <summary>d_r: the number of rotated dims.</summary>
    public int Dim { get; }

    /// <summary>θ'_j for j = 0..d_r/2−1 (YaRN-corrected when configured).</summary>
    public float[] Frequencies { get; }

    /// <summary>Multiplier on cos/sin (Hugging Face's attention_factor).</summary>
    public float AttentionFactor { get; }

    /// <summary>σ = d_qk^−½ · m² (docs/architecture.md §4.4).</summary>
    public float SoftmaxScale { get; }

    public Rope(ModelConfig config)
    {
        Dim = config.QkRopeHeadDim;
        int half = Dim / 2;
        var freqs = new float[half];
        for (int j = 0; j < half; j++)
            freqs[j] = 1f / MathF.Pow((float)config.RopeTheta, (2f * j) / Dim);
        double scale = 1.0 / Math.Sqrt(config.QkHeadDim);
        float attentionFactor = 1f;
        if (config.RopeScaling is { Kind: "yarn" } y)
        {
            float factor = (float)y.Factor;
            (double low, double high) = CorrectionRange(y.BetaFast, y.BetaSlow, Dim, config.RopeTheta, y.OriginalMaxPositionEmbeddings, y.Truncate ?? true);
            if (low == high) high += 0.001;
            for (int j = 0; j < half; j++)
            {
                float ramp = Math.Clamp((float)((j - low) / (high - low)), 0f, 1f);
                float smooth = 1f - ramp;                                  // extrapolation weight γ_j
                freqs[j] = freqs[j] / factor * (1f - smooth) + freqs[j] * smooth;
            }
            double? mscale = y.Mscale, mscaleAllDim = y.MscaleAllDim;
            if (mscale is not null && mscaleAllDim is not null)
                attentionFactor = (float)(GetMscale(y.Factor, mscale.Value) / GetMscale(y.Factor, mscaleAllDim.Value));
            else
                attentionFactor = (float)GetMscale(y.Factor, 1.0);
            if (mscaleAllDim is > 0)
            {
                double m = GetMscale(y.Factor, mscaleAllDim.Value);
                scale *= m * m;
            }
        }
        Frequencies = freqs;
        AttentionFactor = attentionFactor;
        SoftmaxScale = (float)scale;
    }

    /// <summary>m = 0.1·μ·ln s + 1 (1 when s ≤ 1).</summary>
    public static double GetMscale(double scale, double mscale) => scale <= 1 ? 1.0 : 0.1 * mscale * Math.Log(scale) + 1.0;

    /// <summary>J(r) = dim·ln(L0/(2πr)) / (2 ln base); low = floor(J(β_fast)) ≥ 0, high = ceil(J(β_slow)) ≤ dim−1.</summary>
    public static (double Low, double High) CorrectionRange(double betaFast, double betaSlow, int dim, double theta, int originalMax, bool truncate = true)
    {
        double J(double rotations) => dim * Math.Log(originalMax / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = J(betaFast), high = J(betaSlow);
        if (truncate) { low = Math.Floor(low); high = Math.Ceiling(high); }
        return (Math.Max(low, 0), Math.Min(high, dim - 1));
    }

    /// <summary>Makes the cos/sin table cover positions [0, positions). Thread-safe; call before parallel sections.</summary>
    public void EnsureCapacity(int positions)
    {
        if (positions <= Volatile.Read(ref _capacity)) return;
        lock (_grow)
        {
            if (positions <= _capacity) return;
            int capacity = Math.Max(positions, Math.Min(2 * _capacity, int.MaxValue / Dim));
            int half = Dim / 2;
            var cos = new float[capacity * half];
            var sin = new float[capacity * half];
            for (int m = 0; m < capacity; m++)
                for (int j = 0; j < half; j++)
                {
                    float angle = m * Frequencies[j];                          // float32 product, as torch.outer
                    cos[m * half + j] = (float)Math.Cos(angle) * AttentionFactor;
                    sin[m * half + j] = (float)Math.Sin(angle) * AttentionFactor;
                }
            _cos = cos;
            _sin = sin;
            Volatile.Write(ref _capacity, capacity);
        }
    }

    /// <summary>Rotates the interleaved pairs of <paramref name="x"/> (length d_r) in place for position <paramref name="position"/>.</summary>
    public void Apply(Span<float> x, int position) => Rotate(x, position, inverse: false);

    /// <summary>The transpose rotation (by −mθ): the backward of <see cref="Apply"/> when the attention factor is 1.</summary>
    public void ApplyTranspose(Span<float> x, int position) => Rotate(x, position, inverse: true);

    private void Rotate(Span<float> x, int position, bool inverse)
    {
        if (x.Length != Dim) throw new ArgumentException($"RoPE expects {Dim} values, got {x.Length}.");
        if ((uint)position >= (uint)_capacity) throw new ArgumentOutOfRangeException(nameof(position), $"Position {position} is past the RoPE table ({_capacity}); call EnsureCapacity.");
        int half = Dim / 2;
        var cos = _cos.AsSpan(position * half, half);
        var sin = _sin.AsSpan(position * half, half);
        for (int j = 0; j < half; j++)
        {
            float a = x[2 * j], b = x[2 * j + 1], c = cos[j], s = inverse ? -sin[j] : sin[j];
            x[2 * j] = a * c - b * s;
            x[2 * j + 1] = a * s + b * c;
        }
    }
}
