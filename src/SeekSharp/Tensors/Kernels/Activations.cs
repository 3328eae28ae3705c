using System.Numerics.Tensors;

namespace SeekSharp.Tensors.Kernels;

/// <summary>SwiGLU pieces: SiLU(a) = a·σ(a), and the gated product SiLU(gate) ⊙ up (docs/architecture.md §6).</summary>
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
        const int chunk = 256;
        Span<float> s = stackalloc float[chunk];
        Span<float> t = stackalloc float[chunk];
        Span<float> u = stackalloc float[chunk];
        for (int i = 0; i < gate.Length; i += chunk)
        {
            int n = Math.Min(chunk, gate.Length - i);
            var g = gate.Slice(i, n);
            var sig = s[..n];
            var silu = t[..n];
            var f = u[..n];
            TensorPrimitives.Sigmoid(g, sig);                         // σ
            TensorPrimitives.Multiply(g, sig, silu);                  // SiLU = g·σ
            TensorPrimitives.Multiply(dh.Slice(i, n), silu, dUp.Slice(i, n));
            TensorPrimitives.Multiply(silu, sig, f);                  // SiLU·σ
            TensorPrimitives.Subtract(silu, f, f);                    // SiLU − SiLU·σ
            TensorPrimitives.Add(f, sig, f);                          // σ(1 + g(1 − σ)) = σ + SiLU − SiLU·σ
            TensorPrimitives.Multiply(f, up.Slice(i, n), f);
            TensorPrimitives.Multiply(f, dh.Slice(i, n), dGate.Slice(i, n));
        }
    }

    /// <summary>The backward in double, for tests.</summary>
    public static void SiluMulBackwardReference(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dh,
        Span<float> dGate, Span<float> dUp)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            double g = gate[i], s = 1 / (1 + Math.Exp(-g));
            dUp[i] = (float)(dh[i] * g * s);
            dGate[i] = (float)(dh[i] * up[i] * s * (1 + g * (1 - s)));
        }
    }

    /// <summary>Logistic sigmoid, element-wise.</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> dst) => TensorPrimitives.Sigmoid(x, dst);
}
