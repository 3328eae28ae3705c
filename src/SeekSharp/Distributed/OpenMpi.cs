using System.Runtime.InteropServices;

namespace SeekSharp.Distributed;

/// <summary>
/// The C API of the installed Open MPI (Debian: <c>openmpi-bin</c>, <c>libopenmpi-dev</c>), bound at run time: nothing
/// here is touched unless a run asks for more than one process, so training without MPI needs none of it.
/// </summary>
/// <remarks>
/// <para>In Open MPI the predefined handles (<c>MPI_COMM_WORLD</c>, <c>MPI_FLOAT</c>, <c>MPI_SUM</c>, …) are the
/// addresses of exported globals (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_float</c>, <c>ompi_mpi_op_sum</c>, …), so
/// <see cref="NativeLibrary.GetExport"/> gives them; functions are called through unmanaged function pointers.
/// MPICH and Microsoft MPI use integer handles instead and are not bound.</para>
/// <para>The library is opened with <c>RTLD_GLOBAL</c> (through dlopen) because Open MPI's plugins, opened later by
/// the library itself, resolve their symbols against it.</para>
/// </remarks>
internal static unsafe class OpenMpi
{
    public const int Success = 0;
    /// <summary>MPI_THREAD_SERIALIZED: any thread may call MPI, one at a time.</summary>
    public const int ThreadSerialized = 2;
    /// <summary>Open MPI's MPI_IN_PLACE: the address 1.</summary>
    public static readonly nint InPlace = 1;

    private static readonly Lazy<Api> s_api = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static Api Get() => s_api.Value;

    /// <summary>True when this process was started by Open MPI's mpirun (its environment names the job).</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    public sealed class Api
    {
        public nint CommWorld, Float, Double, Int, Long, Byte, Sum, Max, ErrorsReturn;
        public delegate* unmanaged<int*, byte***, int> Init;
        public delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
        public delegate* unmanaged<int*, int> Initialized;
        public delegate* unmanaged<int*, int> Finalized;
        public delegate* unmanaged<int> Finalize;
        public delegate* unmanaged<nint, int*, int> CommRank;
        public delegate* unmanaged<nint, int*, int> CommSize;
        public delegate* unmanaged<nint, nint, int> CommSetErrhandler;
        public delegate* unmanaged<nint, int, int, nint*, int> CommSplit;
        public delegate* unmanaged<nint*, int> CommFree;
        public delegate* unmanaged<nint, int> Barrier;
        public delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
        public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
        public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
        public delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;
        public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Alltoall;
        public delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int> Alltoallv;
        public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> ReduceScatterBlock;
        public delegate* unmanaged<void*, int, nint, void*, int, nint, int, nint, int> Gather;
        public delegate* unmanaged<nint, int, int> Abort;
        public delegate* unmanaged<int, byte*, int*, int> ErrorString;
    }

    private const int RtldNow = 2, RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint DlOpen(string file, int mode);

    private static Api Load()
    {
        nint h = 0;
        foreach (string name in new[] { "libmpi.so.40", "libmpi.so", "/usr/lib/x86_64-linux-gnu/libmpi.so.40", "/usr/lib/aarch64-linux-gnu/libmpi.so.40" })
        {
            try { h = DlOpen(name, RtldNow | RtldGlobal); }
            catch (DllNotFoundException) { break; }   // no libc dlopen (not Linux)
            if (h != 0) break;
        }
        if (h == 0) throw new DistributedException("Open MPI is not installed (libmpi.so.40 not found); install openmpi-bin and libopenmpi-dev, or run on one process.");
        nint Export(string symbol) => NativeLibrary.TryGetExport(h, symbol, out var address) ? address
            : throw new DistributedException($"libmpi does not export {symbol}: SeekSharp binds Open MPI only (MPICH and Microsoft MPI use other handles).");
        return new Api
        {
            CommWorld = Export("ompi_mpi_comm_world"),
            Float = Export("ompi_mpi_float"),
            Double = Export("ompi_mpi_double"),
            Int = Export("ompi_mpi_int"),
            Long = Export("ompi_mpi_long_long_int"),
            Byte = Export("ompi_mpi_byte"),
            Sum = Export("ompi_mpi_op_sum"),
            Max = Export("ompi_mpi_op_max"),
            ErrorsReturn = Export("ompi_mpi_errors_return"),
            Init = (delegate* unmanaged<int*, byte***, int>)Export("MPI_Init"),
            InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread"),
            Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized"),
            Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized"),
            Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize"),
            CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank"),
            CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size"),
            CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler"),
            CommSplit = (delegate* unmanaged<nint, int, int, nint*, int>)Export("MPI_Comm_split"),
            CommFree = (delegate* unmanaged<nint*, int>)Export("MPI_Comm_free"),
            Barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier"),
            Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast"),
            Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce"),
            Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather"),
            Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Export("MPI_Allgatherv"),
            Alltoall = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Alltoall"),
            Alltoallv = (delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int>)Export("MPI_Alltoallv"),
            ReduceScatterBlock = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Reduce_scatter_block"),
            Gather = (delegate* unmanaged<void*, int, nint, void*, int, nint, int, nint, int>)Export("MPI_Gather"),
            Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort"),
            ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string"),
        };
    }

    /// <summary>Throws <see cref="DistributedException"/> naming <paramref name="call"/> when MPI returned an error.</summary>
    public static void Check(int code, string call)
    {
        if (code == Success) return;
        throw new DistributedException($"{call} failed: {Describe(code)}");
    }

    private static string Describe(int code)
    {
        try
        {
            var buffer = stackalloc byte[512];   // MPI_MAX_ERROR_STRING is 256 in Open MPI
            int length = 0;
            if (Get().ErrorString(code, buffer, &length) == Success && length > 0)
                return $"{Marshal.PtrToStringUTF8((nint)buffer, length)} (MPI error {code})";
        }
        catch (DistributedException) { }
        return $"MPI error {code}";
    }
}
