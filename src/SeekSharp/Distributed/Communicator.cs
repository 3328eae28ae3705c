namespace SeekSharp.Distributed;

/// <summary>
/// The processes of one job (MPI_COMM_WORLD of Open MPI, <see cref="OpenMpi"/>): this process's rank, their number, and
/// the collectives that data- and expert-parallel training need. Every collective must be called by every rank in the
/// same order, with matching counts; a failing call throws <see cref="DistributedException"/> naming it.
/// </summary>
/// <remarks>
/// Open the world once per process with <see cref="Open"/> and dispose it at the end (MPI_Finalize); MPI cannot be
/// initialised again after that. Errors are returned rather than aborting the job (MPI_ERRORS_RETURN), so a failure
/// becomes an exception with a message; a rank that dies is reported by mpirun, which ends the job.
/// </remarks>
public sealed unsafe class Communicator : IDisposable
{
    private readonly OpenMpi.Api _mpi;
    private nint _comm;
    private readonly bool _world;   // MPI_COMM_WORLD: disposing it finalises MPI; a split only frees its handle
    private bool _disposed;

    public int Rank { get; }
    public int Size { get; }
    /// <summary>
    /// True when MPI runs with MPI_THREAD_SERIALIZED or more: any thread may call a collective, one at a time. Then
    /// data parallelism all-reduces gradients on its own thread while the backward pass goes on.
    /// </summary>
    public bool AnyThreadMayCall { get; }

    private Communicator(OpenMpi.Api mpi, nint comm, bool world, bool anyThreadMayCall)
    {
        _mpi = mpi;
        _comm = comm;
        _world = world;
        AnyThreadMayCall = anyThreadMayCall;
        int rank, size;
        OpenMpi.Check(mpi.CommRank(_comm, &rank), "MPI_Comm_rank");
        OpenMpi.Check(mpi.CommSize(_comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <summary>True when this process was started by mpirun; otherwise a run is one process and needs no MPI.</summary>
    public static bool LaunchedByMpirun => OpenMpi.LaunchedByMpirun;

    /// <summary>Initialises MPI (once per process) and returns the world communicator.</summary>
    public static Communicator Open()
    {
        var mpi = OpenMpi.Get();
        int initialized, finalized;
        OpenMpi.Check(mpi.Finalized(&finalized), "MPI_Finalized");
        if (finalized != 0) throw new DistributedException("MPI was finalised in this process and cannot be started again.");
        OpenMpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        int provided = 0;
        if (initialized == 0) OpenMpi.Check(mpi.InitThread(null, null, OpenMpi.ThreadSerialized, &provided), "MPI_Init_thread");
        OpenMpi.Check(mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        return new Communicator(mpi, mpi.CommWorld, world: true, anyThreadMayCall: provided >= OpenMpi.ThreadSerialized);
    }

    public bool IsRoot => Rank == 0;

    /// <summary>
    /// Splits this communicator (MPI_Comm_split, a collective): the ranks that pass the same <paramref name="color"/>
    /// form one new communicator, ranked by <paramref name="key"/>. Dispose it before this one.
    /// </summary>
    public Communicator Split(int color, int key)
    {
        nint comm;
        OpenMpi.Check(_mpi.CommSplit(Live(), color, key, &comm), "MPI_Comm_split");
        OpenMpi.Check(_mpi.CommSetErrhandler(comm, _mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        return new Communicator(_mpi, comm, world: false, AnyThreadMayCall);
    }

    public void Barrier() => OpenMpi.Check(_mpi.Barrier(Live()), "MPI_Barrier");

    /// <summary>Every rank's <paramref name="data"/> becomes the element-wise sum over ranks (in place).</summary>
    public void AllReduceSum<T>(Span<T> data) where T : unmanaged => AllReduce(data, _mpi.Sum, "MPI_Allreduce(SUM)");

    /// <summary>Every rank's <paramref name="data"/> becomes the element-wise maximum over ranks (in place).</summary>
    public void AllReduceMax<T>(Span<T> data) where T : unmanaged => AllReduce(data, _mpi.Max, "MPI_Allreduce(MAX)");

    private void AllReduce<T>(Span<T> data, nint op, string call) where T : unmanaged
    {
        if (data.IsEmpty) return;
        fixed (T* p = data) OpenMpi.Check(_mpi.Allreduce((void*)OpenMpi.InPlace, p, data.Length, TypeOf<T>(), op, Live()), call);
    }

    /// <summary>
    /// Sums <paramref name="send"/> (Size blocks of <paramref name="receive"/>.Length elements) over the ranks and gives
    /// rank r only block r of the sum (MPI_Reduce_scatter_block): half the traffic of an all-reduce, for a rank that
    /// needs only its own slice (ZeRO-1's gradients).
    /// </summary>
    public void ReduceScatterSum<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (send.Length != receive.Length * Size)
            throw new ArgumentException($"ReduceScatterSum: {Size} ranks × {receive.Length} elements need a send buffer of {receive.Length * Size}, got {send.Length}.");
        if (receive.IsEmpty) return;
        fixed (T* s = send) fixed (T* r = receive)
            OpenMpi.Check(_mpi.ReduceScatterBlock(s, r, receive.Length, TypeOf<T>(), _mpi.Sum, Live()), "MPI_Reduce_scatter_block(SUM)");
    }

    /// <summary>
    /// Every rank's <paramref name="data"/> holds Size blocks; rank r's block r is copied into block r of every rank
    /// (MPI_Allgather in place).
    /// </summary>
    public void AllGatherInPlace<T>(Span<T> data) where T : unmanaged
    {
        if (data.Length % Size != 0) throw new ArgumentException($"AllGatherInPlace: {data.Length} elements do not split into {Size} blocks.");
        if (data.IsEmpty) return;
        fixed (T* p = data)
            OpenMpi.Check(_mpi.Allgather((void*)OpenMpi.InPlace, 0, TypeOf<T>(), p, data.Length / Size, TypeOf<T>(), Live()), "MPI_Allgather(in place)");
    }

    /// <summary>
    /// Rank r's <paramref name="send"/> lands at [r·n, (r+1)·n) of <paramref name="receive"/> on rank
    /// <paramref name="root"/> (MPI_Gather); the other ranks' <paramref name="receive"/> is not used and may be empty.
    /// </summary>
    public void Gather<T>(ReadOnlySpan<T> send, Span<T> receive, int root = 0) where T : unmanaged
    {
        if (Rank == root && receive.Length != send.Length * Size)
            throw new ArgumentException($"Gather: {Size} ranks × {send.Length} elements need a receive buffer of {send.Length * Size}, got {receive.Length}.");
        fixed (T* s = send) fixed (T* r = receive)
            OpenMpi.Check(_mpi.Gather(s, send.Length, TypeOf<T>(), r, send.Length, TypeOf<T>(), root, Live()), "MPI_Gather");
    }

    /// <summary><paramref name="data"/> of rank <paramref name="root"/> is copied to every rank.</summary>
    public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged
    {
        if (data.IsEmpty) return;
        fixed (T* p = data) OpenMpi.Check(_mpi.Bcast(p, data.Length, TypeOf<T>(), root, Live()), "MPI_Bcast");
    }

    /// <summary>Rank r's <paramref name="send"/> lands at [r·n, (r+1)·n) of every rank's <paramref name="receive"/>.</summary>
    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (receive.Length != send.Length * Size)
            throw new ArgumentException($"AllGather: {Size} ranks × {send.Length} elements need a receive buffer of {send.Length * Size}, got {receive.Length}.");
        fixed (T* s = send) fixed (T* r = receive)
            OpenMpi.Check(_mpi.Allgather(s, send.Length, TypeOf<T>(), r, send.Length, TypeOf<T>(), Live()), "MPI_Allgather");
    }

    /// <summary>
    /// Rank r's <paramref name="send"/> (counts[r] elements) lands after the elements of ranks 0..r−1 in every rank's
    /// <paramref name="receive"/>.
    /// </summary>
    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts) where T : unmanaged
    {
        CheckCounts(counts, "AllGatherV counts");
        if (counts[Rank] != send.Length) throw new ArgumentException($"AllGatherV: this rank sends {send.Length} elements but counts[{Rank}] = {counts[Rank]}.");
        var displacements = Displacements(counts, receive.Length, "AllGatherV receive");
        fixed (T* s = send) fixed (T* r = receive) fixed (int* c = counts) fixed (int* d = displacements)
            OpenMpi.Check(_mpi.Allgatherv(s, send.Length, TypeOf<T>(), r, c, d, TypeOf<T>(), Live()), "MPI_Allgatherv");
    }

    /// <summary>Element j of <paramref name="send"/> goes to rank j, where it lands at index <see cref="Rank"/>.</summary>
    public void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (send.Length != Size || receive.Length != Size)
            throw new ArgumentException($"AllToAll: one element per rank ({Size}), got {send.Length} to send and room for {receive.Length}.");
        fixed (T* s = send) fixed (T* r = receive)
            OpenMpi.Check(_mpi.Alltoall(s, 1, TypeOf<T>(), r, 1, TypeOf<T>(), Live()), "MPI_Alltoall");
    }

    /// <summary>
    /// The block of <paramref name="send"/> for rank j (sendCounts[j] elements, blocks in rank order) goes to rank j;
    /// <paramref name="receive"/> gets the blocks from ranks 0, 1, … in order (receiveCounts[r] elements from rank r).
    /// Exchange the counts first with <see cref="AllToAll{T}"/>.
    /// </summary>
    public void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts) where T : unmanaged
    {
        CheckCounts(sendCounts, "AllToAllV send counts");
        CheckCounts(receiveCounts, "AllToAllV receive counts");
        var sd = Displacements(sendCounts, send.Length, "AllToAllV send");
        var rd = Displacements(receiveCounts, receive.Length, "AllToAllV receive");
        fixed (T* s = send) fixed (T* r = receive) fixed (int* sc = sendCounts) fixed (int* rc = receiveCounts) fixed (int* sdp = sd) fixed (int* rdp = rd)
            OpenMpi.Check(_mpi.Alltoallv(s, sc, sdp, TypeOf<T>(), r, rc, rdp, TypeOf<T>(), Live()), "MPI_Alltoallv");
    }

    /// <summary>Ends every process of the job with <paramref name="exitCode"/> (MPI_Abort): for a rank that cannot go on.</summary>
    public void Abort(int exitCode) => _mpi.Abort(_comm, exitCode);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        int finalized;
        if (_mpi.Finalized(&finalized) != OpenMpi.Success || finalized != 0) return;
        if (!_world)
        {
            var comm = _comm;
            _mpi.CommFree(&comm);
            _comm = comm;
        }
        else _mpi.Finalize();
    }

    private nint Live()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _comm;
    }

    private void CheckCounts(ReadOnlySpan<int> counts, string what)
    {
        if (counts.Length != Size) throw new ArgumentException($"{what}: one count per rank ({Size}), got {counts.Length}.");
        foreach (int c in counts) if (c < 0) throw new ArgumentException($"{what}: a count is negative ({c}).");
    }

    private static int[] Displacements(ReadOnlySpan<int> counts, int bufferLength, string what)
    {
        var d = new int[counts.Length];
        long total = 0;
        for (int i = 0; i < counts.Length; i++) { d[i] = (int)total; total += counts[i]; }
        if (total > bufferLength) throw new ArgumentException($"{what}: the counts add up to {total} elements but the buffer holds {bufferLength}.");
        return d;
    }

    private nint TypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? _mpi.Float
        : typeof(T) == typeof(double) ? _mpi.Double
        : typeof(T) == typeof(int) ? _mpi.Int
        : typeof(T) == typeof(long) ? _mpi.Long
        : typeof(T) == typeof(byte) ? _mpi.Byte
        : throw new NotSupportedException($"No MPI datatype for {typeof(T).Name}: use float, double, int, long or byte.");
}
