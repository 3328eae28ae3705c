using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Kernels;

namespace SeekSharp.Training;

/// <summary>
/// The training objective and its gradient with respect to the model's outputs (the definition in the golden
/// grads.json): for a batch of B sequences of T tokens,
/// <list type="bullet">
/// <item>L_main = mean over b and t = 0..T−2 of CE(logits[b, t], tokens[b, t+1]);</item>
/// <item>L_mtp = (1/D) Σ_k mean over b and i = 0..T−k−2 of CE(mtp_logits_k[b, i], tokens[b, i+k+1]) (k from 1);</item>
/// <item>L_bal = Σ over MoE layers (main and MTP) of the mean over b of Σ_i f_i·P_i, with, over that layer's T′ positions,
/// f_i = N_r/(K_r·T′)·(tokens routed to i) and P_i = (1/T′) Σ_t s_{i,t}/Σ_j s_{j,t} (gradient through P only);</item>
/// <item>L = L_main + λ·L_mtp + α·L_bal.</item>
/// </list>
/// With a target mask (chat fine-tuning: only the assistant's tokens are targets), both cross-entropies are the mean
/// over the predictions whose target token has mask 1, and the others contribute nothing; the balance term still
/// covers every token the experts saw.
/// </summary>
public static class TrainingLoss
{
    /// <summary>The loss and its gradients: dLogits [N, V], one tensor per MTP depth, and ∂L/∂s̄ per MoE layer.</summary>
    public sealed record Gradients(Tensor DLogits, Tensor[] DMtpLogits, Dictionary<int, float[]> Balance);

    /// <summary>
    /// The denominators of the loss when the batch is one shard of a larger global batch (data parallelism): the global
    /// batch's sequences and scored targets of the main and each MTP cross-entropy. Each shard's loss and gradients are
    /// then its share of the global ones, and their sums over the shards are the global loss and gradients.
    /// </summary>
    public sealed record Normalizer(int Sequences, int MainTargets, int[] MtpTargets);

    /// <summary>The <see cref="Normalizer"/> of a whole batch (tokens and mask [B·T]), for the shards it is split into.</summary>
    public static Normalizer NormalizerOf(DeepSeekModel model, LossWeights weights, ReadOnlySpan<byte> targetMask, int batch, int seqLen)
    {
        bool mtp = weights.MtpLambda > 0 && model.Mtp.Length > 0;
        var mtpTargets = new int[mtp ? model.Mtp.Length : 0];
        for (int k = 0; k < mtpTargets.Length; k++) mtpTargets[k] = CountTargets(targetMask, batch, seqLen, offset: k + 2, scoredRows: seqLen - k - 2);
        return new Normalizer(batch, CountTargets(targetMask, batch, seqLen, offset: 1, scoredRows: seqLen - 1), mtpTargets);
    }

    private static int CountTargets(ReadOnlySpan<byte> targetMask, int batch, int seqLen, int offset, int scoredRows)
    {
        if (targetMask.IsEmpty) return batch * Math.Max(0, scoredRows);
        int n = 0;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < scoredRows; i++)
                if (targetMask[b * seqLen + i + offset] != 0) n++;
        return n;
    }

    /// <remarks>
    /// <c>targetMask</c>: [B·T], 1 where tokens[b·T + t] is a target; empty: every token is. <c>normalizer</c>: when
    /// this batch is a shard of a global batch, the global denominators (<see cref="NormalizerOf"/>); the batch-wise
    /// balance loss (<see cref="BalanceLossScope.Batch"/>) pools all tokens of a batch and cannot be sharded.
    /// </remarks>
    public static (LossResult Loss, Gradients Grads) Compute(ForwardContext ctx, DeepSeekModel model, ModelState state, LossWeights weights,
        bool computeGradients = true, ReadOnlySpan<byte> targetMask = default, Normalizer? normalizer = null)
    {
        var batch = state.Batch;
        int b = batch.Batch, t = batch.SeqLen, vocab = model.Config.VocabSize;
        if (t < 2) throw new InvalidInputException("Training sequences need at least 2 tokens.");
        var tokens = state.Tokens;
        if (!targetMask.IsEmpty && targetMask.Length != b * t)
            throw new InvalidInputException($"The target mask has {targetMask.Length} entries for a batch of {b * t} tokens.");

        var dLogits = computeGradients ? ctx.Arena.AllocateUninitialized(new TensorShape(b * t, vocab)) : default;
        if (normalizer is not null && weights.BalanceAlpha > 0 && weights.BalanceScope == BalanceLossScope.Batch)
            throw new InvalidInputException("The batch-wise balance loss (--balance aux-loss) pools the whole batch and cannot be split across data-parallel ranks.");
        var (main, mainScored) = CrossEntropy(ctx, state.Logits, dLogits, tokens, targetMask, b, t, t, offset: 1, scoredRows: t - 1, weight: 1.0, normalizer?.MainTargets);

        bool mtp = weights.MtpLambda > 0 && model.Mtp.Length > 0;
        var dMtp = new Tensor[mtp ? model.Mtp.Length : 0];
        double mtpLoss = 0;
        for (int k = 0; k < dMtp.Length; k++)
        {
            int rows = t - k - 1;                    // module k (0-based) has T−k−1 rows per sequence
            int scored = t - k - 2;                  // row i predicts tokens[i + k + 2]
            if (scored <= 0) throw new InvalidInputException($"Sequences of {t} tokens are too short for MTP depth {k + 1}.");
            dMtp[k] = computeGradients ? ctx.Arena.AllocateUninitialized(new TensorShape(b * rows, vocab)) : default;
            mtpLoss += CrossEntropy(ctx, state.Mtp[k].Logits, dMtp[k], tokens, targetMask, b, rows, t, offset: k + 2, scoredRows: scored,
                weight: weights.MtpLambda / model.Mtp.Length, normalizer?.MtpTargets[k]).Mean;
        }
        if (dMtp.Length > 0) mtpLoss /= model.Mtp.Length;

        var balance = new Dictionary<int, float[]>();
        double bal = 0;
        if (weights.BalanceAlpha > 0)
            foreach (var (layer, moeState, seqLen) in MoeLayers(model, state, dMtp.Length))
            {
                var (value, grad) = BalanceLoss(moeState, model.Config, b, seqLen, weights.BalanceAlpha, weights.BalanceScope, normalizer?.Sequences ?? b);
                bal += value;
                balance[layer] = grad;
            }

        var loss = new LossResult
        {
            Main = main,
            Mtp = mtpLoss,
            Balance = bal,
            Total = main + weights.MtpLambda * mtpLoss + weights.BalanceAlpha * bal,
            Tokens = mainScored,
        };
        return (loss, new Gradients(dLogits, dMtp, balance));
    }

    /// <summary>Every MoE layer that ran: (layer index, its MoE state, its positions per sequence).</summary>
    public static IEnumerable<(int Layer, Moe.Activations State, int SeqLen)> MoeLayers(DeepSeekModel model, ModelState state, int mtpDepthsRun)
    {
        for (int l = 0; l < model.Layers.Length; l++)
            if (model.Layers[l].Moe is not null) yield return (l, state.Layers[l].Moe, state.Batch.SeqLen);
        for (int k = 0; k < mtpDepthsRun; k++)
            if (model.Mtp[k].Layer.Moe is not null)
                yield return (model.Config.NumHiddenLayers + k, state.Mtp[k].Layer.Moe, state.Mtp[k].Batch.SeqLen);
    }

    /// <summary>
    /// Mean cross-entropy of rows (b, i), i &lt; scoredRows, against tokens[b·T + i + offset] (only those whose target
    /// has mask 1 when there is a mask); writes ∂(weight·mean)/∂logits (unscored rows get 0). Returns the mean and the
    /// number of scored rows (a batch with none has mean 0 and zero gradient). Rows are independent, so they run in
    /// parallel; the sum is taken in row order. With <paramref name="globalScored"/> (a shard of a larger batch) the
    /// mean and the gradient divide by that count instead of this batch's.
    /// </summary>
    private static (double Mean, int Scored) CrossEntropy(ForwardContext ctx, Tensor logits, Tensor dLogits, ReadOnlySpan<int> tokens,
        ReadOnlySpan<byte> targetMask, int batch, int rows, int seqLen, int offset, int scoredRows, double weight, int? globalScored = null)
    {
        var targets = new int[batch * rows];
        int scored = 0;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < rows; i++)
            {
                int at = b * seqLen + i + offset;
                bool target = i < scoredRows && (targetMask.IsEmpty || targetMask[at] != 0);
                targets[b * rows + i] = target ? tokens[at] : -1;
                if (target) scored++;
            }
        int denominator = globalScored ?? scored;
        var losses = new double[batch * rows];
        ctx.Pool.For(batch * rows, new CrossEntropyRows(logits, dLogits, targets, losses, denominator == 0 ? 0f : (float)(weight / denominator)));
        double sum = 0;
        foreach (var l in losses) sum += l;
        return (denominator == 0 ? 0 : sum / denominator, scored);
    }

    // Row `row`: its loss, and (when dLogits is given) ∂L/∂logits = scale·(softmax − onehot), zero for rows not scored.
    private readonly struct CrossEntropyRows(Tensor _logits, Tensor _dLogits, int[] _targets, double[] _losses, float _scale) : IParallelJob
    {
        public void Execute(int row)
        {
            int target = _targets[row];
            bool grads = !_dLogits.IsEmpty;
            if (target < 0) { if (grads) _dLogits.Row(row).Clear(); return; }
            var x = _logits.Row(row);
            if (!grads)
            {
                _losses[row] = Softmax.LogSumExp(x) - x[target];
                return;
            }
            var d = _dLogits.Row(row);
            float lse = Softmax.ForwardWithLogSumExp(x, d);          // d = p
            _losses[row] = lse - x[target];
            d[target] -= 1f;                                        // p − onehot
            VectorOps.Scale(d, _scale);
        }
    }

    /// <summary>
    /// One MoE layer's balance term (Σ over sequences, mean) and ∂(α·term)/∂s̄ as [B, N_r] rows (every token of
    /// sequence b shares row b). The batch scope pools all tokens into one "sequence". <paramref name="globalSequences"/>:
    /// the sequences the mean is over (this batch's, or the global batch's when this is a shard of it).
    /// </summary>
    private static (double Value, float[] Grad) BalanceLoss(Moe.Activations moe, ModelConfig c, int batch, int seqLen, double alpha, BalanceLossScope scope,
        int globalSequences)
    {
        int experts = c.NRoutedExperts!.Value, k = c.NumExpertsPerTok!.Value;
        var routing = moe.Routing;
        int groups = scope == BalanceLossScope.Sequence ? batch : 1;
        int divisor = scope == BalanceLossScope.Sequence ? globalSequences : 1;
        int perGroup = scope == BalanceLossScope.Sequence ? seqLen : batch * seqLen;
        var grad = new float[batch * experts];
        double total = 0;
        var f = new double[experts];
        var p = new double[experts];
        for (int g = 0; g < groups; g++)
        {
            Array.Clear(f);
            Array.Clear(p);
            for (int tok = g * perGroup; tok < (g + 1) * perGroup; tok++)
            {
                for (int i = 0; i < k; i++) f[routing.Indices[tok * k + i]] += 1;
                var s = routing.Scores.Row(tok);
                double sum = 0;
                foreach (var v in s) sum += v;
                for (int j = 0; j < experts; j++) p[j] += s[j] / sum;
            }
            double value = 0;
            for (int j = 0; j < experts; j++)
            {
                f[j] *= (double)experts / (k * perGroup);
                p[j] /= perGroup;
                value += f[j] * p[j];
            }
            total += value / divisor;
            // ∂(α · mean_g Σ f·P)/∂s̄_{j,t} = α/groups · f_j / perGroup
            for (int seq = 0; seq < batch; seq++)
            {
                if (scope == BalanceLossScope.Sequence && seq != g) continue;
                for (int j = 0; j < experts; j++) grad[seq * experts + j] = (float)(alpha / divisor * f[j] / perGroup);
            }
        }
        return (total, grad);
    }
}
