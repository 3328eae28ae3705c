using System.Runtime.Intrinsics;
using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Training;

/// <summary>
/// AdamW (or plain SGD) over a model's trainable parameters, with global-norm clipping. Moments are float32 and
/// part of the training state, so a resumed run continues bit for bit. The expert biases are not trained here
/// (<see cref="ExpertBiasBalancer"/> moves them).
/// </summary>
public sealed class Optimizer
{
    private readonly List<Parameter> _params;
    private readonly float[][] _m, _v;
    private readonly List<(int Param, int Start, int Length)> _chunks = new();   // the update's work items

    public OptimizerOptions Options { get; }
    /// <summary>Optimiser steps taken (the t of Adam's bias correction).</summary>
    public long StepCount { get; private set; }

    public Optimizer(DeepSeekModel model, OptimizerOptions options)
    {
        options.Validate();
        Options = options;
        _params = model.Parameters.Where(p => p.Role != ParameterRole.ExpertBias).ToList();
        bool adam = options.Kind == OptimizerKind.AdamW;
        _m = _params.Select(p => adam ? new float[p.Size] : Array.Empty<float>()).ToArray();
        _v = _params.Select(p => adam ? new float[p.Size] : Array.Empty<float>()).ToArray();
    }

    public IReadOnlyList<Parameter> Parameters => _params;

    /// <summary>√(Σ g²) over every trainable parameter, summed per tensor in double and in a fixed order.</summary>
    public double GradientNorm()
    {
        double sum = 0;
        foreach (var p in _params)
        {
            double s = 0;
            foreach (var g in p.Grad!) s += (double)g * g;
            sum += s;
        }
        return Math.Sqrt(sum);
    }

    /// <summary>Clips (when configured) and applies one update with learning rate <paramref name="lr"/>; returns the pre-clip norm.</summary>
    public double Step(WorkerPool pool, double lr)
    {
        double norm = GradientNorm();
        if (!double.IsFinite(norm)) throw new TrainingDivergedException($"The gradient norm is {norm} at step {StepCount + 1}.");
        float clip = Options.GradClip > 0 && norm > Options.GradClip ? (float)(Options.GradClip / norm) : 1f;
        StepCount++;
        if (_chunks.Count == 0)
            for (int i = 0; i < _params.Count; i++)
                for (int s = 0; s < _params[i].Size; s += UpdateChunk)
                    _chunks.Add((i, s, Math.Min(UpdateChunk, _params[i].Size - s)));
        var opt = Options;
        pool.For(_chunks.Count, new Update(this, _chunks, (float)lr, clip, (float)opt.Beta1, (float)opt.Beta2, (float)opt.Epsilon,
            (float)opt.WeightDecay, (float)(1 - Math.Pow(opt.Beta1, StepCount)), (float)(1 - Math.Pow(opt.Beta2, StepCount))));
        return norm;
    }

    private const int UpdateChunk = 1 << 16;

    // One chunk of one parameter: SGD, or AdamW with bias corrections c1 = 1 − β1^t, c2 = 1 − β2^t.
    private readonly struct Update(Optimizer _o, List<(int Param, int Start, int Length)> _chunks, float _lr, float _clip,
        float _b1, float _b2, float _eps, float _wd, float _c1, float _c2) : IParallelJob
    {
        public void Execute(int index)
        {
            var (pi, start, length) = _chunks[index];
            var p = _o._params[pi];
            var w = p.Data.AsSpan(start, length);
            var g = p.Grad.AsSpan(start, length);
            float decay = p.Role is ParameterRole.Matrix or ParameterRole.Embedding ? _wd : 0f;
            if (_o.Options.Kind == OptimizerKind.Sgd)
            {
                for (int k = 0; k < w.Length; k++) w[k] -= _lr * (g[k] * _clip + decay * w[k]);
                return;
            }
            var m = _o._m[pi].AsSpan(start, length);
            var v = _o._v[pi].AsSpan(start, length);
            float stepSize = _lr / _c1, decayFactor = 1 - _lr * decay;
            float invC2 = 1 / _c2;
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                // Same arithmetic as the scalar loop below, eight lanes at a time (no FMA contraction, so both agree).
                var b1 = Vector256.Create(_b1);
                var b1c = Vector256.Create(1 - _b1);
                var b2 = Vector256.Create(_b2);
                var b2c = Vector256.Create(1 - _b2);
                var clip = Vector256.Create(_clip);
                var ic2 = Vector256.Create(invC2);
                var eps = Vector256.Create(_eps);
                var df = Vector256.Create(decayFactor);
                var ss = Vector256.Create(stepSize);
                for (; i + 8 <= w.Length; i += 8)
                {
                    var gi = Vector256.Create(g.Slice(i, 8)) * clip;
                    var mi = b1 * Vector256.Create(m.Slice(i, 8)) + b1c * gi;
                    var vi = b2 * Vector256.Create(v.Slice(i, 8)) + b2c * gi * gi;
                    var wi = Vector256.Create(w.Slice(i, 8)) * df
                             - ss * mi / (Vector256.Sqrt(vi * ic2) + eps);
                    mi.CopyTo(m.Slice(i, 8));
                    vi.CopyTo(v.Slice(i, 8));
                    wi.CopyTo(w.Slice(i, 8));
                }
            }
            for (; i < w.Length; i++)
            {
                float gi = g[i] * _clip;
                m[i] = _b1 * m[i] + (1 - _b1) * gi;
                v[i] = _b2 * v[i] + (1 - _b2) * gi * gi;
                w[i] = w[i] * decayFactor - stepSize * m[i] / (MathF.Sqrt(v[i] * invC2) + _eps);
            }
        }
    }

    // ------------------------------------------------------------------ state

    /// <summary>Writes the step count and every moment (float32, parameter order).</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(StepCount);
        writer.Write(_params.Count);
        for (int i = 0; i < _params.Count; i++)
        {
            writer.Write(_params[i].Name);
            WriteFloats(writer, _m[i]);
            WriteFloats(writer, _v[i]);
        }
    }

    public void Load(BinaryReader reader)
    {
        StepCount = reader.ReadInt64();
        int count = reader.ReadInt32();
        if (count != _params.Count) throw new CheckpointException($"The training state has {count} parameters' moments, the model has {_params.Count}.");
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (name != _params[i].Name) throw new CheckpointException($"The training state's moment #{i} is for '{name}', expected '{_params[i].Name}'.");
            ReadFloats(reader, _m[i], name);
            ReadFloats(reader, _v[i], name);
        }
    }

    private static void WriteFloats(BinaryWriter w, float[] values)
    {
        w.Write(values.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static void ReadFloats(BinaryReader r, float[] into, string name)
    {
        int n = r.ReadInt32();
        if (n != into.Length) throw new CheckpointException($"The training state holds {n} moment values for '{name}', expected {into.Length}.");
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(into.AsSpan());
        if (r.Read(bytes) != bytes.Length) throw new CheckpointException($"The training state ends inside the moments of '{name}'.");
    }
}

/// <summary>The loss or the gradients became NaN or infinite.</summary>
public sealed class TrainingDivergedException(string message) : SeekSharpException(message);
