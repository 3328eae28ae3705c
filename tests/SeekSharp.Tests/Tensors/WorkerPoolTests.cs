using SeekSharp.Tensors;
using Xunit;

namespace SeekSharp.Tests.Tensors;

public class WorkerPoolTests
{
    private sealed class CountingWork : ParallelWork
    {
        public int[] Hits = [];
        public override void Execute(int index) => Interlocked.Increment(ref Hits[index]);
    }

    [Fact]
    public void EveryIndexRunsExactlyOnceAcrossManySmallJobs()
    {
        using var pool = new WorkerPool(2);
        var work = new CountingWork();
        var rng = new Random(3);
        for (int job = 0; job < 20000; job++)
        {
            int n = rng.Next(2, 40);
            work.Hits = new int[n];
            pool.For(n, work);
            for (int i = 0; i < n; i++) Assert.True(work.Hits[i] == 1, $"job {job}: index {i} ran {work.Hits[i]} times");
        }
    }

    [Theory]
    [InlineData(0x7FFFF0)]   // the claim word turns negative at generation 2^23 (a shift bug hung here once)
    [InlineData(0xFFFFF0)]   // and the 24-bit generation wraps to 0
    public async Task JobsRunAcrossTheGenerationCountersEdges(int start)
    {
        using var pool = new WorkerPool(2);
        pool.SetGeneration(start);
        var work = new CountingWork();
        var run = Task.Run(() =>
        {
            for (int job = 0; job < 64; job++)
            {
                work.Hits = new int[9];
                pool.For(9, work);
                Assert.All(work.Hits, h => Assert.Equal(1, h));
            }
        });
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))));
        await run;
    }

    [Fact]
    public async Task SeveralCallersShareOnePool()
    {
        using var pool = new WorkerPool(3);
        var tasks = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            var work = new CountingWork();
            for (int job = 0; job < 2000; job++)
            {
                work.Hits = new int[17];
                pool.For(17, work);
                Assert.All(work.Hits, h => Assert.Equal(1, h));
            }
        })).ToArray();
        await Task.WhenAll(tasks);
    }

    [Fact]
    public void HugeCountsAndExceptionsAreHandled()
    {
        using var pool = new WorkerPool(2);
        var work = new CountingWork { Hits = new int[(1 << 20) + 5] };
        pool.For(work.Hits.Length, work);
        Assert.All(work.Hits, h => Assert.Equal(1, h));
        var e = Assert.Throws<InvalidOperationException>(() => pool.For(10, new Throwing()));
        Assert.Equal("boom 7", e.Message);
        work.Hits = new int[5];
        pool.For(5, work);   // the pool still works afterwards
        Assert.All(work.Hits, h => Assert.Equal(1, h));
    }

    private sealed class Throwing : ParallelWork
    {
        public override void Execute(int index) { if (index == 7) throw new InvalidOperationException("boom 7"); }
    }
}
