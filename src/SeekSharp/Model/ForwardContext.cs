using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// What one forward (and its backward) runs with: the worker pool, the arena its activations come from, and whether
/// activations are kept for a backward pass. One per session or trainer; not thread-safe.
/// </summary>
public sealed class ForwardContext
{
    public WorkerPool Pool { get; }
    public TensorArena Arena { get; }

    /// <summary>Keep every intermediate a backward pass needs (training).</summary>
    public bool SaveActivations { get; set; }

    /// <summary>
    /// Attention implementation when no cache is used: naive (full per-head K and V, the training form) or absorbed
    /// (MQA over the latent). Tests check they agree; decode always uses the absorbed form.
    /// </summary>
    public AttentionMode Attention { get; set; } = AttentionMode.Naive;

    public ForwardContext(WorkerPool pool, TensorArena? arena = null)
    {
        Pool = pool;
        Arena = arena ?? new TensorArena();
    }
}

/// <summary>The two mathematically equal forms of MLA (spec §4.5, §4.6).</summary>
public enum AttentionMode
{
    /// <summary>Materialise k_h = [k^C_h; k^R] and v_h per head.</summary>
    Naive,
    /// <summary>Absorb W^UK into the query and W^UV into the output; attend over the cached latent.</summary>
    Absorbed,
}
