using SeekSharp.Model;

namespace SeekSharp.Training;

/// <summary>
/// Auxiliary-loss-free load balancing (architecture.md §10.1): after each optimiser step, per MoE layer, from that step's expert
/// loads, b_i ← b_i + γ·sign(mean_load − load_i). Also measures MaxVio = (max_i load_i − mean) / mean, the report's
/// balance metric.
/// </summary>
public static class ExpertBiasBalancer
{
    /// <summary>Per MoE layer that ran: its index, its loads (tokens per expert this step) and MaxVio.</summary>
    public sealed record LayerBalance(int Layer, int[] Loads, double MaxVio)
    {
        /// <summary>A layer's balance from its loads: MaxVio = (max − mean) / mean, 0 when nothing was routed.</summary>
        public static LayerBalance Of(int layer, int[] loads)
        {
            double mean = loads.Average();
            return new LayerBalance(layer, loads, mean == 0 ? 0 : (loads.Max() - mean) / mean);
        }
    }

    public static List<LayerBalance> Measure(DeepSeekModel model, ModelState state, bool mtpRan)
    {
        var result = new List<LayerBalance>();
        foreach (var (layer, moe, _) in TrainingLoss.MoeLayers(model, state, mtpRan ? model.Mtp.Length : 0))
            result.Add(LayerBalance.Of(layer, (int[])moe.Counts.Clone()));
        return result;
    }

    /// <summary>Applies the sign update with speed γ to each measured layer's e_score_correction_bias.</summary>
    public static void Update(DeepSeekModel model, IEnumerable<LayerBalance> layers, double gamma)
    {
        if (gamma == 0) return;
        foreach (var l in layers)
        {
            var router = l.Layer < model.Layers.Length ? model.Layers[l.Layer].Moe!.Router : model.Mtp[l.Layer - model.Layers.Length].Layer.Moe!.Router;
            if (router.Bias is null) continue;   // softmax/greedy routing has no bias to move
            var b = router.Bias.Span;
            double mean = l.Loads.Average();
            for (int i = 0; i < b.Length; i++)
                b[i] += (float)(gamma * Math.Sign(mean - l.Loads[i]));
        }
    }
}
