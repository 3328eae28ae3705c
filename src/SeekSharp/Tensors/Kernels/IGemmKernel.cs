namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// A GEMM register tile: C[0..MR, 0..NR] (+)= Ap[kc, MR]ᵀ · Bp[kc, NR] on packed panels (A packed k-major with MR
/// values per k, B packed k-major with NR values per k), the innermost loop of <see cref="BlockedGemm{TKernel}"/>.
/// </summary>
/// <remarks>
/// The blocked driver is generic over the kernel (a struct type argument), so the JIT compiles one driver per tile
/// shape with MR, NR and MC as constants. Implementations: <see cref="GemmKernel6x16"/> (AVX2, Vector256) and
/// <see cref="GemmKernel12x32"/> (AVX-512, Vector512).
/// </remarks>
internal unsafe interface IGemmKernel
{
    /// <summary>Rows of C per tile: values of A broadcast per k step.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of C per tile: values of B loaded as vectors per k step.</summary>
    static abstract int NR { get; }

    /// <summary>Rows of A per cache block (a multiple of MR): MC × KC floats of packed A stay in L2.</summary>
    static abstract int MC { get; }

    /// <summary>The tile at <paramref name="c"/> (row stride <paramref name="ldc"/>): overwritten, or added to when <paramref name="add"/>.</summary>
    static abstract void Run(int kc, float* ap, float* bp, float* c, int ldc, bool add);
}
