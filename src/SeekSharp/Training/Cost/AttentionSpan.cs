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
