using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// Random initialisation as in DeepSeek-V3's report (architecture.md §16): every matrix and embedding ~ N(0, σ²) with σ = 0.006,
/// norms 1, expert biases 0. Each tensor draws from its own stream keyed by its name, so the result does not depend
/// on the order parameters are visited or on the thread count.
/// </summary>
public static class ModelInitializer
{
    public const float DefaultStd = 0.006f;

    public static void Initialize(DeepSeekModel model, ulong seed, float std = DefaultStd)
    {
        // Each tensor has its own stream, so filling them in parallel gives the same bits as in order.
        Parallel.ForEach(model.Parameters, p =>
        {
            switch (p.Role)
            {
                case ParameterRole.Norm: p.SetValues(Enumerable.Repeat(1f, p.Size).ToArray()); break;
                case ParameterRole.ExpertBias: p.SetValues(new float[p.Size]); break;
                default:
                    var rng = Rng.ForStream(seed, p.Name);
                    var values = new float[p.Size];
                    for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextGaussian() * std);
                    p.SetValues(values);
                    break;
            }
        });
    }
}
