namespace SeekSharp.Training;

/// <summary>
/// ZeRO-1's partition of the optimiser state (docs/distributed.md): the trainable parameters, flattened in order, are
/// cut into <see cref="Ranks"/> blocks of <see cref="BlockOf"/> floats (the last one padded); rank r keeps AdamW's
/// moments of block r only and updates only those weights.
/// </summary>
public readonly record struct OptimizerShard(int Rank, int Ranks)
{
    /// <summary>Floats per block: ⌈flat / ranks⌉, so that equal blocks (what MPI_Reduce_scatter_block needs) cover all.</summary>
    public static long BlockOf(long flat, int ranks) => (flat + ranks - 1) / ranks;

    /// <summary>Floats per block for <paramref name="flat"/> parameters over this shard's ranks.</summary>
    public long BlockOfRank(long flat) => BlockOf(flat, Ranks);

    /// <summary>[Start, End) of the flattened parameters that rank <see cref="Rank"/> owns.</summary>
    public (long Start, long End) Slice(long flat)
    {
        if (Ranks < 1 || Rank < 0 || Rank >= Ranks) throw new InvalidOperationException($"No shard for rank {Rank} of {Ranks}.");
        long block = BlockOf(flat, Ranks);
        return (Math.Min(flat, Rank * block), Math.Min(flat, (Rank + 1) * block));
    }
}
