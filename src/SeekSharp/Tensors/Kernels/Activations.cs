using System.Numerics.Tensors;

namespace SeekSharp.Tensors.Kernels;

/// <summary>SwiGLU pieces: SiLU(a) = a·σ(a), and the gated product SiLU(gate) ⊙ up (spec §6).</summary>
public static class Activations
{
    /// <summary>dst = SiLU(gate) ⊙ up; dst may be gate or up.</summary>
    public static void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        if (gate.Length != up.Length || dst.Length < gate.Length)
            throw new ArgumentException($"SiluMul: gate {gate.Length}, up {up.Length}, dst {dst.Length}.");
        const int chunk = 256;
        Span<float> s = stackalloc float[chunk];
        for (int i = 0; i < gate.Length; i += chunk)
        {
            int n = Math.Min(chunk, gate.Length - i);
            var sc = s[..n];
            var g = gate.Slice(i, n);
            TensorPrimitives.Sigmoid(g, sc);
            TensorPrimitives.Multiply(sc, g, sc);
            TensorPrimitives.Multiply(sc, up.Slice(i, n), dst.Slice(i, n));
        }
    }

    public static void SiluMulReference(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> dst)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            double g = gate[i];
            dst[i] = (float)(g / (1 + Math.Exp(-g)) * up[i]);
        }
    }

    /// <summary>
    /// Backward of h = SiLU(g) ⊙ u: dg = dh ⊙ u ⊙ σ(g)(1 + g(1 − σ(g))), du = dh ⊙ SiLU(g).
    /// </summary>
    public static void SiluMulBackward(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dh,
        Span<float> dGate, Span<float> dUp)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            float s = 1f / (1f + MathF.Exp(-g));
            float silu = g * s;
            dUp[i] = dh[i] * silu;
            dGate[i] = dh[i] * up[i] * s * (1f + g * (1f - s));
        }
    }

    /// <summary>Logistic sigmoid, element-wise.</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> dst) => TensorPrimitives.Sigmoid(x, dst);
}
