namespace SeekSharp.Model;

/// <summary>What a parameter is, which decides its storage, initialisation and weight decay.</summary>
public enum ParameterRole
{
    /// <summary>A projection weight [out, in]: may be stored BF16/F16/quantised, initialised N(0, σ²), decayed.</summary>
    Matrix,
    /// <summary>An embedding table [vocab, d]: looked up by row; initialised N(0, σ²), decayed.</summary>
    Embedding,
    /// <summary>An RMSNorm weight [d]: initialised to 1, never decayed, always float32.</summary>
    Norm,
    /// <summary>The router's e_score_correction_bias [n_routed_experts]: float32, not trained by gradients (architecture.md §10.1).</summary>
    ExpertBias,
}
