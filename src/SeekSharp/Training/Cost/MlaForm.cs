namespace SeekSharp.Training;

/// <summary>The two equal forms of MLA (docs/architecture.md §4.5, §4.6), which differ in cost when a cache is used.</summary>
public enum MlaForm
{
    /// <summary>Per-head keys and values: kv_b_proj expands each token's latent once, attention has head dim d_n + d_r.</summary>
    Naive,
    /// <summary>W^UK folded into the query and W^UV into the output: attention runs over the cached latent (d_c + d_r wide).</summary>
    Absorbed,
}
