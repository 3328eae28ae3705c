using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// Everything one forward leaves behind: the outputs, and the per-layer state the backward pass reads. Reused from
/// forward to forward (one per session or trainer); tensors point into the context's arena and are valid until it is reset.
/// </summary>
public sealed class ModelState
{
    public ModelState(DeepSeekModel model)
    {
        Layers = model.Layers.Select(_ => new DecoderLayer.Activations()).ToArray();
        Mtp = model.Mtp.Select(_ => new MtpModule.Activations()).ToArray();
    }

    public DecoderLayer.Activations[] Layers { get; }
    public MtpModule.Activations[] Mtp { get; }

    /// <summary>The last forward's layout when its sequences had equal lengths and no caches (what backward needs).</summary>
    public BatchLayout Batch { get; internal set; }

    /// <summary>Scratch layout for forwards given as a <see cref="BatchLayout"/>, reused so that decoding allocates nothing.</summary>
    internal RaggedBatch Layout { get; } = new();

    private int[] _tokens = Array.Empty<int>();
    private int _rows;

    /// <summary>The token ids of the last forward.</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, _rows);

    internal void SetTokens(ReadOnlySpan<int> tokens)
    {
        if (_tokens.Length < tokens.Length) _tokens = new int[Math.Max(tokens.Length, 2 * _tokens.Length)];
        tokens.CopyTo(_tokens);
        _rows = tokens.Length;
    }

    /// <summary>[N, d] the residual stream after the last layer (before the final norm).</summary>
    public Tensor Hidden { get; internal set; }
    /// <summary>[N, d] after the final norm: the head's input and MTP module 0's hidden input.</summary>
    public Tensor Normed { get; internal set; }
    public float[] NormRstd { get; internal set; } = Array.Empty<float>();
    /// <summary>[rows, V]: every row, or the last row of each sequence (see <see cref="ForwardRequest.LogitsRows"/>).</summary>
    public Tensor Logits { get; internal set; }
    /// <summary>[L+1] of [N, d]: the embedding output, then each layer's output, when collected.</summary>
    public Tensor[] HiddenStates { get; internal set; } = Array.Empty<Tensor>();
}

/// <summary>Which logits a forward computes.</summary>
public enum LogitsRows { All, LastPerSequence, None }

/// <summary>What a forward should produce beyond the residual stream.</summary>
public sealed record ForwardRequest
{
    public LogitsRows LogitsRows { get; init; } = LogitsRows.All;
    public bool CollectHiddenStates { get; init; }
    /// <summary>Run the MTP modules (teacher-forced over the batch) and compute their logits.</summary>
    public bool RunMtp { get; init; }

    public static ForwardRequest Default { get; } = new();
}
