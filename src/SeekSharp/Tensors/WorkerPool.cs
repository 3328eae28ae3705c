namespace SeekSharp.Tensors;

/// <summary>A unit of parallel work: <see cref="Execute"/> runs once for every index of a <see cref="WorkerPool.For"/> call.</summary>
/// <remarks>
/// Kernels keep one instance and refill its fields per call, so dispatching allocates nothing.
/// The result of an index must not depend on which thread runs it: that keeps every computation
/// bitwise reproducible for a given partition of the work.
/// </remarks>
public abstract class ParallelWork
{
    public abstract void Execute(int index);
}

/// <summary>
/// A parallel loop body as a small struct (its fields are the loop's inputs), run by <see cref="WorkerPool.For{TJob}"/>.
/// <see cref="Execute"/> runs on several threads at once on the same value, so it must not change the struct's fields;
/// per-thread scratch goes in [ThreadStatic] statics.
/// </summary>
public interface IParallelJob
{
    void Execute(int index);
}

/// <summary>
/// A persistent pool of worker threads sized to the cores. The calling thread takes part in every job,
/// so a pool of N threads starts N−1 workers. Workers spin briefly between jobs (decode issues hundreds of
/// small jobs per token) and then sleep on a monitor.
/// </summary>
/// <remarks>
/// Indices are claimed with a compare-and-swap on one 64-bit word that holds the job's generation, its index count
/// and the next index, and the caller waits only for indices that were claimed, not for workers to show up: a worker
/// that the operating system has not scheduled yet (another process busy on its core) costs nothing, the caller just
/// does the job alone. Everything a worker decides comes from that one word, so a worker that wakes up late, even
/// while the next job is being set up, sees a different generation or an exhausted job and claims nothing.
/// </remarks>
public sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 4000;
    // The claim word: generation (24 bits) | count (20 bits) | next index (20 bits).
    private const int IndexBits = 20;
    private const long IndexMask = (1L << IndexBits) - 1;
    private const int MaxChunk = (1 << IndexBits) - 1;

    private readonly Thread[] _workers;
    private readonly object _gate = new();    // workers sleep on it
    private readonly object _jobLock = new(); // one job at a time; callers from several threads queue here
    private ParallelWork? _work;
    private long _claim;                      // generation | count | next index (see above)
    private int _completed;
    private int _generation;
    private int _sleepers;
    private volatile bool _disposed;
    private Exception? _error;
    [ThreadStatic] private static WorkerPool? t_running;

    /// <summary>The number of threads that execute work, the caller included.</summary>
    public int ThreadCount { get; }

    /// <param name="threads">Threads including the caller; 0 or less means one per logical core.</param>
    public WorkerPool(int threads = 0)
    {
        ThreadCount = threads > 0 ? threads : Environment.ProcessorCount;
        _workers = new Thread[ThreadCount - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"SeekSharp worker {i + 1}" };
            _workers[i].Start();
        }
    }

    private static WorkerPool? s_shared;

    /// <summary>A process-wide pool with one thread per core, for callers that do not pass their own.</summary>
    public static WorkerPool Shared => LazyInitializer.EnsureInitialized(ref s_shared, () => new WorkerPool());

    /// <summary>Starts the job counter at <paramref name="generation"/> (tests of the counter's wrap-around).</summary>
    internal void SetGeneration(int generation)
    {
        lock (_jobLock) Interlocked.Exchange(ref _generation, generation & 0xFFFFFF);
    }

    /// <summary>
    /// Runs <c>job.Execute(i)</c> for every i in [0, count) across the pool and returns when all are done. The job is a
    /// struct: no class per loop, and nothing allocated once each job type has run on the calling thread.
    /// </summary>
    public void For<TJob>(int count, in TJob job) where TJob : struct, IParallelJob
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0) return;
        if (count == 1 || _workers.Length == 0 || t_running is not null)
        {
            for (int i = 0; i < count; i++) job.Execute(i);
            return;
        }
        var holder = JobHolder<TJob>.ForThisThread();
        holder.Job = job;
        try { For(count, holder); }
        finally { holder.Job = default; }
    }

    // Carries a struct job to the workers; one per job type and calling thread, so dispatching allocates nothing.
    private sealed class JobHolder<TJob> : ParallelWork where TJob : struct, IParallelJob
    {
        [ThreadStatic] private static JobHolder<TJob>? t_holder;
        public static JobHolder<TJob> ForThisThread() => t_holder ??= new JobHolder<TJob>();
        public TJob Job;
        public override void Execute(int index) => Job.Execute(index);
    }

    /// <summary>Runs <c>work.Execute(i)</c> for every i in [0, count) across the pool and returns when all are done.</summary>
    public void For(int count, ParallelWork work)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0) return;
        // Inline when there is nothing to share, or when called from inside a job (no nested parallelism).
        if (count == 1 || _workers.Length == 0 || t_running is not null)
        {
            for (int i = 0; i < count; i++) work.Execute(i);
            return;
        }
        if (count > MaxChunk)
        {
            var offset = new OffsetWork(work);
            for (int start = 0; start < count; start += MaxChunk)
            {
                offset.Offset = start;
                For(Math.Min(MaxChunk, count - start), offset);
            }
            return;
        }
        Exception? error;
        lock (_jobLock)
        {
            _work = work;
            _error = null;
            Volatile.Write(ref _completed, 0);
            int generation = (_generation + 1) & 0xFFFFFF;
            // Publish the claim word (which alone decides what a worker may run), then wake the workers.
            Volatile.Write(ref _claim, ((long)generation << (2 * IndexBits)) | ((long)count << IndexBits));
            Interlocked.Exchange(ref _generation, generation);
            if (Volatile.Read(ref _sleepers) > 0)
                lock (_gate) Monitor.PulseAll(_gate);
            t_running = this;
            try { RunChunks(generation); }
            finally { t_running = null; }
            var spin = new SpinWait();
            while (Volatile.Read(ref _completed) != count) spin.SpinOnce(sleep1Threshold: -1);
            _work = null;
            error = _error;
        }
        if (error is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
    }

    private void RunChunks(int generation)
    {
        while (true)
        {
            long claim = Volatile.Read(ref _claim);
            // Unsigned shift: from generation 2^23 on the word is negative, and a sign-extending shift would make every
            // job look like another one (nobody runs it, and the caller waits forever; seen after ~8.4M jobs).
            if ((int)(claim >>> (2 * IndexBits)) != generation) return;   // another job: not ours to run
            int count = (int)((claim >> IndexBits) & IndexMask), index = (int)(claim & IndexMask);
            if (index >= count) return;                                   // all claimed
            if (Interlocked.CompareExchange(ref _claim, claim + 1, claim) != claim) continue;
            // This job cannot end before this index completes, so _work is still this generation's.
            try { _work!.Execute(index); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            Interlocked.Increment(ref _completed);
        }
    }

    /// <summary>Runs a slice of a job whose count exceeds one claim word's range.</summary>
    private sealed class OffsetWork(ParallelWork inner) : ParallelWork
    {
        public int Offset;
        public override void Execute(int index) => inner.Execute(Offset + index);
    }

    private void WorkerLoop()
    {
        t_running = this;
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed && spins++ < SpinIterations)
                Thread.SpinWait(20);
            if (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                lock (_gate)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (Volatile.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_gate);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            RunChunks(seen);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate) Monitor.PulseAll(_gate);
        foreach (var t in _workers) t.Join();
    }
}
