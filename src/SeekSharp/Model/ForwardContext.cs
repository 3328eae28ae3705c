using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// What forwards (and backwards) run with: the worker pool, the arena their activations come from, and the modes, fixed
/// when the context is made (a trainer that also evaluates keeps two contexts over one arena). Not thread-safe.
/// </summary>
public sealed class ForwardContext
{
    public WorkerPool Pool { get; }
    public TensorArena Arena { get; }

    /// <summary>Keep every intermediate a backward pass needs (training).</summary>
    public bool SaveActivations { get; init; }

    /// <summary>
    /// Attention implementation when no cache is used: naive (full per-head K and V, the training form) or absorbed
    /// (MQA over the latent). Tests check they agree; decode always uses the absorbed form.
    /// </summary>
    public AttentionMode Attention { get; init; } = AttentionMode.Naive;

    /// <summary>Receives named intermediates of every forward (docs/architecture.md §23); null, the default, costs nothing.</summary>
    public IActivationSink? Dump { get; init; }

    public ForwardContext(WorkerPool pool, TensorArena? arena = null)
    {
        Pool = pool;
        Arena = arena ?? new TensorArena();
    }

    /// <summary>A context over the same pool and arena with activations kept (training) or not.</summary>
    public ForwardContext WithSaveActivations(bool save) => new(Pool, Arena) { SaveActivations = save, Attention = Attention, Dump = Dump };
}

/// <summary>The two mathematically equal forms of MLA (docs/architecture.md §4.5, §4.6).</summary>
public enum AttentionMode
{
    /// <summary>Materialise k_h = [k^C_h; k^R] and v_h per head.</summary>
    Naive,
    /// <summary>Absorb W^UK into the query and W^UV into the output; attend over the cached latent.</summary>
    Absorbed,
}
