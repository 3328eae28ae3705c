namespace SeekSharp.Training;

/// <summary>Which query–key pairs the attention-score FLOPs count.</summary>
public enum AttentionSpan
{
    /// <summary>Only the pairs a causal mask keeps: query t sees keys 1..t, on average (T + 1)/2 of them. This is the
    /// work a causal kernel (FlashAttention, say) does, and the default.</summary>
    Causal,
    /// <summary>The full T × T square, as if the masked half were computed and thrown away (the convention of
    /// Megatron-LM's and PaLM's MFU formulas); it raises the attention-score term by 2T/(T + 1).</summary>
    Full,
}

/// <summary>The two equal forms of MLA (spec §4.5, §4.6), which differ in cost when a cache is used.</summary>
public enum MlaForm
{
    /// <summary>Per-head keys and values: kv_b_proj expands each token's latent once, attention has head dim d_n + d_r.</summary>
    Naive,
    /// <summary>W^UK folded into the query and W^UV into the output: attention runs over the cached latent (d_c + d_r wide).</summary>
    Absorbed,
}
