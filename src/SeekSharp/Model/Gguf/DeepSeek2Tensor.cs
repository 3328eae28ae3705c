namespace SeekSharp.Model.Gguf;

/// <summary>How a GGUF tensor of the deepseek2 layout is made from checkpoint tensors (docs/gguf.md §Tensors).</summary>
public enum DeepSeek2TensorKind
{
    /// <summary>One checkpoint tensor as it is: [rows, cols] becomes ne {cols, rows}.</summary>
    Plain,
    /// <summary>Every expert's matrix stacked on a new outer axis: ne {cols, rows, experts}.</summary>
    Experts,
    /// <summary>kv_b_proj's key half, each head transposed: ne {qk_nope, kv_lora, heads}.</summary>
    KeyB,
    /// <summary>kv_b_proj's value half: ne {kv_lora, v_head, heads}.</summary>
    ValueB,
}

/// <summary>
/// One tensor of the deepseek2 GGUF layout: its GGUF name, ggml dims, how it is built, the checkpoint tensors it comes
/// from (one, or one per expert) and their role.
/// </summary>
public sealed record DeepSeek2Tensor(string Name, long[] Dims, DeepSeek2TensorKind Kind, string[] Sources, ParameterSpec Spec)
{
    /// <summary>Whether llama.cpp's converter keeps it F32 whatever the file type: 1-D tensors and the router.</summary>
    public bool AlwaysF32 => Dims.Length == 1 || Spec.Name.EndsWith(CheckpointLayout.Router, StringComparison.Ordinal);
}
