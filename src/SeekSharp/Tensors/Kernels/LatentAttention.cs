using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tensors.Kernels;

/// <summary>
/// One query's attention over a latent cache, all heads at once: MLA in absorbed form (docs/architecture.md),
/// <code>
/// scores[h, s] = σ·(q̃_h·c_s + q^R_h·k^R_s)   for s &lt; visible
/// P = softmax_s(scores)                        ĉ_h = Σ_s P[h, s]·c_s
/// </code>
/// with q̃ [n_h, d_c], q^R [n_h, d_r], the cache c [S, d_c] and k^R [S, d_r], and ĉ [n_h, d_c].
/// </summary>
/// <remarks>
/// <para><see cref="Attend"/> splits the visible keys into chunks of <see cref="Chunk"/> (as flash-decoding does).
/// Each chunk computes its scores with register tiles of 4 heads × 4 keys (2 keys with 256-bit vectors), its
/// maximum m_j and sum l_j of exp(score − m_j) per head, and its unnormalised Σ exp(score − m_j)·c_s, while its cache
/// rows are still in the core's cache. The chunks run in parallel, and are merged in chunk order:
/// ĉ_h = Σ_j e^(m_j − M)·partial_j / Σ_j e^(m_j − M)·l_j with M = max_j m_j. The cache is read from memory once.</para>
/// <para>The chunks depend only on <c>visible</c>, so the result is the same for any number of threads and any
/// number of cached rows past <c>visible</c>: a speculative verification gives bit for bit what decoding token by
/// token gives. <see cref="Reference"/> is the plain definition the tests compare against.</para>
/// </remarks>
public static class LatentAttention
{
    /// <summary>Keys per chunk: one chunk's latent rows (128 × d_c floats) stay in the core's L2 between its two products.</summary>
    public const int Chunk = 128;

    /// <summary>
    /// Floats of scratch <see cref="Attend"/> needs: per chunk a partial ĉ [n_h, d_c], a maximum and a sum per head, and
    /// its scores [n_h, Chunk].
    /// </summary>
    public static int ScratchSize(int heads, int latentDim, int visible) => Chunks(visible) * heads * (latentDim + 2 + Chunk);

    private static int Chunks(int visible) => (visible + Chunk - 1) / Chunk;

    internal static bool Vector512Available => Gemm.Vector512Available;

    /// <param name="pool">Runs the chunks in parallel.</param>
    /// <param name="q">q̃ [n_h, d_c]: the query's heads projected into the latent space (W^UKᵀ q^C).</param>
    /// <param name="qRope">q^R [n_h, d_r]: the rotary part.</param>
    /// <param name="c">[≥ visible, d_c] the latent keys-and-values.</param>
    /// <param name="kRope">[≥ visible, d_r] the shared rotary keys.</param>
    /// <param name="visible">Keys attended: rows [0, visible) of c and k^R (≥ 1).</param>
    /// <param name="scale">σ, the softmax scale.</param>
    /// <param name="output">ĉ [n_h, d_c].</param>
    /// <param name="scratch">At least <see cref="ScratchSize"/> floats.</param>
    public static void Attend(WorkerPool pool, Tensor q, Tensor qRope, Tensor c, Tensor kRope, int visible, float scale, Tensor output, Tensor scratch) =>
        AttendWith(pool, q, qRope, c, kRope, visible, scale, output, scratch, Vector512Available);

    /// <summary><see cref="Attend"/> with the 512-bit (<paramref name="wide"/>) or the 256-bit kernels.</summary>
    internal static void AttendWith(WorkerPool pool, Tensor q, Tensor qRope, Tensor c, Tensor kRope, int visible, float scale, Tensor output, Tensor scratch,
        bool wide)
    {
        int nh = q.Rows, dc = q.Cols, dr = qRope.Cols;
        if (visible < 1 || visible > c.Rows || visible > kRope.Rows)
            throw new ArgumentOutOfRangeException(nameof(visible), $"{visible} visible keys of a cache holding {c.Rows}.");
        if (c.Cols != dc || kRope.Cols != dr || qRope.Rows != nh || output.Rows != nh || output.Cols != dc)
            throw new ArgumentException($"Latent attention: q̃ {q.Shape}, q^R {qRope.Shape}, c {c.Shape}, k^R {kRope.Shape}, ĉ {output.Shape} do not fit.");
        int chunks = Chunks(visible);
        if (scratch.Size < ScratchSize(nh, dc, visible)) throw new ArgumentException($"Latent attention needs {ScratchSize(nh, dc, visible)} floats of scratch, got {scratch.Size}.");
        var partial = new Tensor(scratch.Buffer, scratch.Offset, new TensorShape(chunks * nh, dc));            // [chunks·n_h, d_c]
        var stats = new Tensor(scratch.Buffer, scratch.Offset + chunks * nh * dc, new TensorShape(chunks, 2 * nh)); // [chunks, n_h maxima | n_h sums]
        var scores = new Tensor(scratch.Buffer, scratch.Offset + chunks * nh * (dc + 2), new TensorShape(chunks * nh, Chunk)); // [chunks·n_h, Chunk]
        var job = new ChunkJob(q, qRope, c, kRope, visible, scale, partial, stats, scores, wide);
        if (chunks == 1) job.Execute(0);
        else pool.For(chunks, job);
        Merge(partial, stats, chunks, nh, output);
    }

    // ĉ_h = Σ_j w_j·partial_j[h] / Σ_j w_j·l_j[h], w_j = e^(m_j[h] − M[h]), in chunk order.
    private static void Merge(Tensor partial, Tensor stats, int chunks, int nh, Tensor output)
    {
        for (int h = 0; h < nh; h++)
        {
            float max = float.NegativeInfinity;
            for (int j = 0; j < chunks; j++) max = MathF.Max(max, stats.Row(j)[h]);
            float sum = 0;
            for (int j = 0; j < chunks; j++) sum += MathF.Exp(stats.Row(j)[h] - max) * stats.Row(j)[nh + h];
            var o = output.Row(h);
            TensorPrimitives.Multiply(partial.Row(h), MathF.Exp(stats.Row(0)[h] - max) / sum, o);
            for (int j = 1; j < chunks; j++)
                TensorPrimitives.MultiplyAdd(partial.Row(j * nh + h), MathF.Exp(stats.Row(j)[h] - max) / sum, o, o);
        }
    }

    private readonly unsafe struct ChunkJob(Tensor q, Tensor qRope, Tensor c, Tensor kRope, int visible, float scale, Tensor partial, Tensor stats,
        Tensor allScores, bool wide) : IParallelJob
    {
        public void Execute(int j)
        {
            int nh = q.Rows, dc = q.Cols, dr = qRope.Cols, s0 = j * Chunk, len = Math.Min(Chunk, visible - s0);
            var scores = allScores.Slice(j * nh, nh).Span;                      // [n_h, Chunk], row h: this chunk's keys
            var cChunk = c.Slice(s0, len);                                      // [len, d_c]
            var rChunk = kRope.Slice(s0, len);                                  // [len, d_r]
            fixed (float* qp = q.Span, qrp = qRope.Span, cp = cChunk.Span, rp = rChunk.Span, sp = scores, pp = partial.Slice(j * nh, nh).Span)
            {
                if (wide) Scores512(qp, cp, qrp, rp, nh, len, dc, dr, sp);      // q̃·cᵀ + q^R·k^Rᵀ
                else Scores256(qp, cp, qrp, rp, nh, len, dc, dr, sp);
                var st = stats.Row(j);
                for (int h = 0; h < nh; h++)
                {
                    var row = scores.Slice(h * Chunk, len);
                    TensorPrimitives.Multiply(row, scale, row);
                    float max = TensorPrimitives.Max(row);
                    TensorPrimitives.Subtract(row, max, row);
                    TensorPrimitives.Exp(row, row);
                    st[h] = max;
                    st[nh + h] = TensorPrimitives.Sum(row);
                }
                if (wide) Values512(sp, cp, nh, len, dc, pp);                   // Σ_s e^(score − m)·c_s
                else Values256(sp, cp, nh, len, dc, pp);
            }
        }
    }

    // scores[h·Chunk + s] = Σ_k q[h·dc + k]·c[s·dc + k] + Σ_k qr[h·dr + k]·kr[s·dr + k] for h < nh, s < len: tiles of
    // 4 heads × 4 keys, 16 zmm accumulators that take both parts before one reduction.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Scores512(float* q, float* c, float* qr, float* kr, int nh, int len, int dc, int dr, float* scores)
    {
        float* t = stackalloc float[16];   // a tile's 16 sums, row-major [4 heads, 4 keys]
        int s = 0;
        for (; s + 4 <= len; s += 4)
        {
            int h = 0;
            for (; h + 4 <= nh; h += 4)
            {
                Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
                Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
                for (int part = 0; part < 2; part++)
                {
                    int d = part == 0 ? dc : dr;
                    float* a0 = (part == 0 ? q : qr) + (long)h * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
                    float* b0 = (part == 0 ? c : kr) + (long)s * d, b1 = b0 + d, b2 = b1 + d, b3 = b2 + d;
                    for (int k = 0; k + 16 <= d; k += 16)
                    {
                        var y0 = Vector512.Load(b0 + k);
                        var y1 = Vector512.Load(b1 + k);
                        var y2 = Vector512.Load(b2 + k);
                        var y3 = Vector512.Load(b3 + k);
                        var x = Vector512.Load(a0 + k);
                        c00 = Vector512.FusedMultiplyAdd(x, y0, c00); c01 = Vector512.FusedMultiplyAdd(x, y1, c01);
                        c02 = Vector512.FusedMultiplyAdd(x, y2, c02); c03 = Vector512.FusedMultiplyAdd(x, y3, c03);
                        x = Vector512.Load(a1 + k);
                        c10 = Vector512.FusedMultiplyAdd(x, y0, c10); c11 = Vector512.FusedMultiplyAdd(x, y1, c11);
                        c12 = Vector512.FusedMultiplyAdd(x, y2, c12); c13 = Vector512.FusedMultiplyAdd(x, y3, c13);
                        x = Vector512.Load(a2 + k);
                        c20 = Vector512.FusedMultiplyAdd(x, y0, c20); c21 = Vector512.FusedMultiplyAdd(x, y1, c21);
                        c22 = Vector512.FusedMultiplyAdd(x, y2, c22); c23 = Vector512.FusedMultiplyAdd(x, y3, c23);
                        x = Vector512.Load(a3 + k);
                        c30 = Vector512.FusedMultiplyAdd(x, y0, c30); c31 = Vector512.FusedMultiplyAdd(x, y1, c31);
                        c32 = Vector512.FusedMultiplyAdd(x, y2, c32); c33 = Vector512.FusedMultiplyAdd(x, y3, c33);
                    }
                }
                Sum8(Fold(c00), Fold(c01), Fold(c02), Fold(c03), Fold(c10), Fold(c11), Fold(c12), Fold(c13), t);
                Sum8(Fold(c20), Fold(c21), Fold(c22), Fold(c23), Fold(c30), Fold(c31), Fold(c32), Fold(c33), t + 8);
                StoreTile(t, q, c, qr, kr, h, s, dc, dr, 4, 4, 16, scores);
            }
            for (; h < nh; h++) DotRow(q, c, qr, kr, h, s, dc, dr, 4, scores);
        }
        for (; s < len; s++)
            for (int h = 0; h < nh; h++) DotRow(q, c, qr, kr, h, s, dc, dr, 1, scores);
    }

    // The same with 256-bit vectors: tiles of 4 heads × 2 keys, 8 ymm accumulators (AVX2 has 16 registers).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Scores256(float* q, float* c, float* qr, float* kr, int nh, int len, int dc, int dr, float* scores)
    {
        float* t = stackalloc float[8];    // a tile's 8 sums, row-major [4 heads, 2 keys]
        int s = 0;
        for (; s + 2 <= len; s += 2)
        {
            int h = 0;
            for (; h + 4 <= nh; h += 4)
            {
                Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                for (int part = 0; part < 2; part++)
                {
                    int d = part == 0 ? dc : dr;
                    float* a0 = (part == 0 ? q : qr) + (long)h * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
                    float* b0 = (part == 0 ? c : kr) + (long)s * d, b1 = b0 + d;
                    for (int k = 0; k + 8 <= d; k += 8)
                    {
                        var y0 = Vector256.Load(b0 + k);
                        var y1 = Vector256.Load(b1 + k);
                        var x = Vector256.Load(a0 + k);
                        c00 = Vector256.FusedMultiplyAdd(x, y0, c00); c01 = Vector256.FusedMultiplyAdd(x, y1, c01);
                        x = Vector256.Load(a1 + k);
                        c10 = Vector256.FusedMultiplyAdd(x, y0, c10); c11 = Vector256.FusedMultiplyAdd(x, y1, c11);
                        x = Vector256.Load(a2 + k);
                        c20 = Vector256.FusedMultiplyAdd(x, y0, c20); c21 = Vector256.FusedMultiplyAdd(x, y1, c21);
                        x = Vector256.Load(a3 + k);
                        c30 = Vector256.FusedMultiplyAdd(x, y0, c30); c31 = Vector256.FusedMultiplyAdd(x, y1, c31);
                    }
                }
                Sum8(c00, c01, c10, c11, c20, c21, c30, c31, t);
                StoreTile(t, q, c, qr, kr, h, s, dc, dr, 4, 2, 8, scores);
            }
            for (; h < nh; h++) DotRow(q, c, qr, kr, h, s, dc, dr, 2, scores);
        }
        for (; s < len; s++)
            for (int h = 0; h < nh; h++) DotRow(q, c, qr, kr, h, s, dc, dr, 1, scores);
    }

    // A zmm's two halves added: 8 partial sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fold(Vector512<float> v) => v.GetLower() + v.GetUpper();

    // dst[i] = the sum of v_i's 8 lanes, for i < 8, by a tree of horizontal adds (9 instructions for 8 sums).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Sum8(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        Vector256<float> v4, Vector256<float> v5, Vector256<float> v6, Vector256<float> v7, float* dst)
    {
        if (!Avx.IsSupported)
        {
            dst[0] = Vector256.Sum(v0); dst[1] = Vector256.Sum(v1); dst[2] = Vector256.Sum(v2); dst[3] = Vector256.Sum(v3);
            dst[4] = Vector256.Sum(v4); dst[5] = Vector256.Sum(v5); dst[6] = Vector256.Sum(v6); dst[7] = Vector256.Sum(v7);
            return;
        }
        // Per 128-bit lane, u0 = [v0, v1, v2, v3] and u1 = [v4, v5, v6, v7], each summed over that lane's 4 elements.
        var u0 = Avx.HorizontalAdd(Avx.HorizontalAdd(v0, v1), Avx.HorizontalAdd(v2, v3));
        var u1 = Avx.HorizontalAdd(Avx.HorizontalAdd(v4, v5), Avx.HorizontalAdd(v6, v7));
        (Avx.Permute2x128(u0, u1, 0x20) + Avx.Permute2x128(u0, u1, 0x31)).Store(dst);   // low lanes + high lanes
    }

    // Writes a tile of `rows` heads × `cols` keys from its vector sums t, adding the elements past the vectors' reach
    // (dimensions that are not a multiple of the vector width `width`).
    private static unsafe void StoreTile(float* t, float* q, float* c, float* qr, float* kr, int h, int s, int dc, int dr, int rows, int cols, int width,
        float* scores)
    {
        int fromC = dc - dc % width, fromR = dr - dr % width;
        for (int x = 0; x < rows; x++)
            for (int y = 0; y < cols; y++)
            {
                float v = t[x * cols + y];
                for (int i = fromC; i < dc; i++) v += q[(long)(h + x) * dc + i] * c[(long)(s + y) * dc + i];
                for (int i = fromR; i < dr; i++) v += qr[(long)(h + x) * dr + i] * kr[(long)(s + y) * dr + i];
                scores[(long)(h + x) * Chunk + s + y] = v;
            }
    }

    // Head h against `cols` consecutive keys from s.
    private static unsafe void DotRow(float* q, float* c, float* qr, float* kr, int h, int s, int dc, int dr, int cols, float* scores)
    {
        var a = new ReadOnlySpan<float>(q + (long)h * dc, dc);
        var ar = new ReadOnlySpan<float>(qr + (long)h * dr, dr);
        for (int y = 0; y < cols; y++)
            scores[(long)h * Chunk + s + y] = TensorPrimitives.Dot(a, new ReadOnlySpan<float>(c + (long)(s + y) * dc, dc))
                + TensorPrimitives.Dot(ar, new ReadOnlySpan<float>(kr + (long)(s + y) * dr, dr));
    }

    // partial[h·d + :] = Σ_s p[h·Chunk + s]·c[s·d + :]: tiles of 4 heads × 64 columns, 16 zmm accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Values512(float* p, float* c, int nh, int len, int d, float* partial)
    {
        int h = 0;
        for (; h + 4 <= nh; h += 4)
        {
            float* p0 = p + (long)h * Chunk, p1 = p0 + Chunk, p2 = p1 + Chunk, p3 = p2 + Chunk;
            int col = 0;
            for (; col + 64 <= d; col += 64)
            {
                Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
                Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
                for (int s = 0; s < len; s++)
                {
                    float* row = c + (long)s * d + col;
                    var y0 = Vector512.Load(row);
                    var y1 = Vector512.Load(row + 16);
                    var y2 = Vector512.Load(row + 32);
                    var y3 = Vector512.Load(row + 48);
                    var x = Vector512.Create(p0[s]);
                    c00 = Vector512.FusedMultiplyAdd(x, y0, c00); c01 = Vector512.FusedMultiplyAdd(x, y1, c01);
                    c02 = Vector512.FusedMultiplyAdd(x, y2, c02); c03 = Vector512.FusedMultiplyAdd(x, y3, c03);
                    x = Vector512.Create(p1[s]);
                    c10 = Vector512.FusedMultiplyAdd(x, y0, c10); c11 = Vector512.FusedMultiplyAdd(x, y1, c11);
                    c12 = Vector512.FusedMultiplyAdd(x, y2, c12); c13 = Vector512.FusedMultiplyAdd(x, y3, c13);
                    x = Vector512.Create(p2[s]);
                    c20 = Vector512.FusedMultiplyAdd(x, y0, c20); c21 = Vector512.FusedMultiplyAdd(x, y1, c21);
                    c22 = Vector512.FusedMultiplyAdd(x, y2, c22); c23 = Vector512.FusedMultiplyAdd(x, y3, c23);
                    x = Vector512.Create(p3[s]);
                    c30 = Vector512.FusedMultiplyAdd(x, y0, c30); c31 = Vector512.FusedMultiplyAdd(x, y1, c31);
                    c32 = Vector512.FusedMultiplyAdd(x, y2, c32); c33 = Vector512.FusedMultiplyAdd(x, y3, c33);
                }
                float* o0 = partial + (long)h * d + col, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
                c00.Store(o0); c01.Store(o0 + 16); c02.Store(o0 + 32); c03.Store(o0 + 48);
                c10.Store(o1); c11.Store(o1 + 16); c12.Store(o1 + 32); c13.Store(o1 + 48);
                c20.Store(o2); c21.Store(o2 + 16); c22.Store(o2 + 32); c23.Store(o2 + 48);
                c30.Store(o3); c31.Store(o3 + 16); c32.Store(o3 + 32); c33.Store(o3 + 48);
            }
            for (int x = 0; x < 4; x++) ValuesRow(p + (long)(h + x) * Chunk, c, len, d, col, partial + (long)(h + x) * d);
        }
        for (; h < nh; h++) ValuesRow(p + (long)h * Chunk, c, len, d, 0, partial + (long)h * d);
    }

    // The same with 256-bit vectors: tiles of 4 heads × 16 columns, 8 ymm accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Values256(float* p, float* c, int nh, int len, int d, float* partial)
    {
        int h = 0;
        for (; h + 4 <= nh; h += 4)
        {
            float* p0 = p + (long)h * Chunk, p1 = p0 + Chunk, p2 = p1 + Chunk, p3 = p2 + Chunk;
            int col = 0;
            for (; col + 16 <= d; col += 16)
            {
                Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                for (int s = 0; s < len; s++)
                {
                    float* row = c + (long)s * d + col;
                    var y0 = Vector256.Load(row);
                    var y1 = Vector256.Load(row + 8);
                    var x = Vector256.Create(p0[s]);
                    c00 = Vector256.FusedMultiplyAdd(x, y0, c00); c01 = Vector256.FusedMultiplyAdd(x, y1, c01);
                    x = Vector256.Create(p1[s]);
                    c10 = Vector256.FusedMultiplyAdd(x, y0, c10); c11 = Vector256.FusedMultiplyAdd(x, y1, c11);
                    x = Vector256.Create(p2[s]);
                    c20 = Vector256.FusedMultiplyAdd(x, y0, c20); c21 = Vector256.FusedMultiplyAdd(x, y1, c21);
                    x = Vector256.Create(p3[s]);
                    c30 = Vector256.FusedMultiplyAdd(x, y0, c30); c31 = Vector256.FusedMultiplyAdd(x, y1, c31);
                }
                float* o0 = partial + (long)h * d + col, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
                c00.Store(o0); c01.Store(o0 + 8);
                c10.Store(o1); c11.Store(o1 + 8);
                c20.Store(o2); c21.Store(o2 + 8);
                c30.Store(o3); c31.Store(o3 + 8);
            }
            for (int x = 0; x < 4; x++) ValuesRow(p + (long)(h + x) * Chunk, c, len, d, col, partial + (long)(h + x) * d);
        }
        for (; h < nh; h++) ValuesRow(p + (long)h * Chunk, c, len, d, 0, partial + (long)h * d);
    }

    // One head's columns [from, d): Σ_s p[s]·c[s, from..d).
    private static unsafe void ValuesRow(float* p, float* c, int len, int d, int from, float* partial)
    {
        if (from >= d) return;
        var o = new Span<float>(partial + from, d - from);
        o.Clear();
        for (int s = 0; s < len; s++)
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(c + (long)s * d + from, d - from), p[s], o, o);
    }

    /// <summary>The definition, plainly: per head, the scores, a softmax (<see cref="Softmax.Reference"/>) and the weighted sum of the visible rows.</summary>
    public static void Reference(Tensor q, Tensor qRope, Tensor c, Tensor kRope, int visible, float scale, Tensor output)
    {
        int nh = q.Rows, dc = q.Cols, dr = qRope.Cols;
        var scores = new float[visible];
        var p = new float[visible];
        for (int h = 0; h < nh; h++)
        {
            for (int s = 0; s < visible; s++)
            {
                double dot = 0;
                for (int k = 0; k < dc; k++) dot += (double)q.Row(h)[k] * c.Row(s)[k];
                for (int k = 0; k < dr; k++) dot += (double)qRope.Row(h)[k] * kRope.Row(s)[k];
                scores[s] = (float)(scale * dot);
            }
            Softmax.Reference(scores, p);
            for (int k = 0; k < dc; k++)
            {
                double sum = 0;
                for (int s = 0; s < visible; s++) sum += (double)p[s] * c.Row(s)[k];
                output.Row(h)[k] = (float)sum;
            }
        }
    }
}
