using System.Runtime.InteropServices;

namespace SeekSharp.Bench;

/// <summary>
/// The peer: OpenBLAS's sgemm through its C interface, loaded at run time if installed
/// (Debian: <c>apt-get install libopenblas0-pthread</c>). Only the bench uses it; the library never does.
/// </summary>
internal static unsafe class OpenBlas
{
    private static readonly nint Handle = Load();
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;
    private static readonly delegate* unmanaged<int, void> SetThreads;

    static OpenBlas()
    {
        if (Handle == 0) return;
        Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(Handle, "cblas_sgemm");
        SetThreads = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(Handle, "openblas_set_num_threads");
    }

    public static bool Available => Handle != 0;

    private static nint Load()
    {
        foreach (var name in new[] { "libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0" })
            if (NativeLibrary.TryLoad(name, out var h)) return h;
        return 0;
    }

    public static void Threads(int n) => SetThreads(n);

    /// <summary>C[m,n] = A[m,k] · B[n,k]ᵀ, row-major (CblasRowMajor=101, NoTrans=111, Trans=112).</summary>
    public static void MultiplyNT(int m, int n, int k, float[] a, float[] b, float[] c)
    {
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            Sgemm(101, 111, 112, m, n, k, 1f, pa, k, pb, k, 0f, pc, n);
    }

    public static void MultiplyNN(int m, int n, int k, float[] a, float[] b, float[] c)
    {
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            Sgemm(101, 111, 111, m, n, k, 1f, pa, k, pb, n, 0f, pc, n);
    }
}
