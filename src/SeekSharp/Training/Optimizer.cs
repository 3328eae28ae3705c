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
    // AdamW's moments of the part of each parameter this rank owns: the whole parameter without a shard, else the
    // overlap of [Offset(i), Offset(i) + Size) with the shard's slice of the flattened parameters (often empty).
    private readonly float[][] _m, _v;
    private readonly long[] _offset;                      // parameter i starts at _offset[i] of the flattened parameters
    private readonly bool[] _held;                        // false: another rank holds parameter i (expert parallel)
    private readonly List<(int Param, int Start, int Length)> _chunks = new();   // the update's work items
    private float[]? _gatheredM, _gatheredV;              // [FlatSize]: every rank's moments, on rank 0, for Save

    public OptimizerOptions Options { get; }
    /// <summary>Optimiser steps taken (the t of Adam's bias correction).</summary>
    public long StepCount { get; private set; }
    /// <summary>The slice of the parameters whose moments this process keeps and updates (ZeRO-1), or null for all.</summary>
    public OptimizerShard? Shard { get; }
    /// <summary>Floats in all trainable parameters together (their flattened length).</summary>
    public long FlatSize { get; }
    /// <summary>[Start, End) of the flattened parameters this process updates: all of them without a shard.</summary>
    public (long Start, long End) Owned { get; }
    /// <summary>Whether this process keeps moments for, and updates, every parameter (no ZeRO shard, no experts held elsewhere).</summary>
    public bool HoldsAll { get; }

    /// <param name="model">The model whose trainable parameters (all but the expert biases) this optimiser updates.</param>
    /// <param name="options">The update rule.</param>
    /// <param name="shard">ZeRO-1: keep and update only this slice of the flattened parameters.</param>
    /// <param name="holds">Expert parallelism: the parameters this process keeps moments for and updates (the others,
    /// routed experts another rank owns, hold no values here); null: all.</param>
    public Optimizer(DeepSeekModel model, OptimizerOptions options, OptimizerShard? shard = null, Predicate<Parameter>? holds = null)
    {
        options.Validate();
        Options = options;
        Shard = shard;
        _params = model.Parameters.Where(p => p.Role != ParameterRole.ExpertBias).ToList();
        _offset = new long[_params.Count];
        for (int i = 0; i < _params.Count; i++) { _offset[i] = FlatSize; FlatSize += _params[i].Size; }
        Owned = shard is { } s ? s.Slice(FlatSize) : (0, FlatSize);
        _held = _params.Select(p => holds?.Invoke(p) ?? true).ToArray();
        HoldsAll = shard is null && _held.All(h => h);
        bool adam = options.Kind == OptimizerKind.AdamW;
        _m = new float[_params.Count][];
        _v = new float[_params.Count][];
        for (int i = 0; i < _params.Count; i++)
        {
            var (start, length) = OwnedPart(i);
            _m[i] = adam ? new float[length] : [];
            _v[i] = adam ? new float[length] : [];
        }
    }

    public IReadOnlyList<Parameter> Parameters => _params;

    /// <summary>Where parameter <paramref name="index"/> starts in the flattened parameters.</summary>
    public long OffsetOf(int index) => _offset[index];

    /// <summary>The part [Start, Start + Length) of parameter <paramref name="index"/> inside <see cref="Owned"/>.</summary>
    public (int Start, int Length) OwnedPart(int index)
    {
        if (!_held[index]) return (0, 0);
        long from = Math.Max(Owned.Start, _offset[index]), to = Math.Min(Owned.End, _offset[index] + _params[index].Size);
        return to <= from ? (0, 0) : ((int)(from - _offset[index]), (int)(to - from));
    }

    /// <summary>Bytes of optimiser state (AdamW's two moments) this process holds.</summary>
    public long StateBytes => _m.Sum(a => (long)a.Length) * 2 * sizeof(float);

    /// <summary>Bytes of optimiser state the whole model needs (what one process holds without a shard).</summary>
    public long FullStateBytes => Options.Kind == OptimizerKind.AdamW ? FlatSize * 2 * sizeof(float) : 0;

    /// <summary>√(Σ g²) over every trainable parameter, summed per tensor in double and in a fixed order.</summary>
    public double GradientNorm()
    {
        double sum = 0;
        foreach (var p in _params)
        {
            double s = 0;
            foreach (var g in p.Grad.AsSpan()) s += (double)g * g;   // no gradient: an expert held elsewhere
            sum += s;
        }
        return Math.Sqrt(sum);
    }

    /// <summary>Σ g² over the owned part of every parameter, per part in double and in parameter order.</summary>
    private double OwnedSquares()
    {
        double sum = 0;
        for (int i = 0; i < _params.Count; i++)
        {
            var (start, length) = OwnedPart(i);
            double s = 0;
            foreach (var g in _params[i].Grad.AsSpan(start, length)) s += (double)g * g;
            sum += s;
        }
        return sum;
    }

    /// <summary>
    /// Clips (when configured) and applies one update with learning rate <paramref name="lr"/>; returns the pre-clip norm.
    /// With a <see cref="Shard"/>, only the owned part of each gradient must hold the summed gradient, only the owned
    /// part of the weights changes, and <paramref name="sumOverShards"/> adds up the shards' Σ g² for the global norm.
    /// </summary>
    public double Step(WorkerPool pool, double lr, Func<double, double>? sumOverShards = null)
    {
        double norm;
        if (Shard is null) norm = GradientNorm();
        else
        {
            if (sumOverShards is null) throw new InvalidOperationException("A sharded optimiser needs the sum of the shards' squared gradients.");
            norm = Math.Sqrt(sumOverShards(OwnedSquares()));
        }
        if (!double.IsFinite(norm)) throw new TrainingDivergedException($"The gradient norm is {norm} at step {StepCount + 1}.");
        float clip = Options.GradClip > 0 && norm > Options.GradClip ? (float)(Options.GradClip / norm) : 1f;
        StepCount++;
        if (_chunks.Count == 0)
            for (int i = 0; i < _params.Count; i++)
            {
                var (start, length) = OwnedPart(i);
                for (int s = 0; s < length; s += UpdateChunk)
                    _chunks.Add((i, start + s, Math.Min(UpdateChunk, length - s)));
            }
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
            int at = start - _o.OwnedPart(pi).Start;   // the moments hold only the owned part
            var m = _o._m[pi].AsSpan(at, length);
            var v = _o._v[pi].AsSpan(at, length);
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

    /// <summary>
    /// This process's moments, flattened: [Owned.End − Owned.Start] floats each of m and v (what a rank sends to be
    /// gathered before rank 0 saves a sharded state).
    /// </summary>
    public void CopyOwnedMoments(Span<float> m, Span<float> v)
    {
        int at = 0;
        for (int i = 0; i < _params.Count; i++)
        {
            _m[i].CopyTo(m[at..]);
            _v[i].CopyTo(v[at..]);
            at += _m[i].Length;
        }
    }

    /// <summary>Moments <paramref name="index"/> of the parameter at that index: its owned part (empty when held elsewhere).</summary>
    public (float[] M, float[] V) MomentsOf(int index) => (_m[index], _v[index]);

    /// <summary>
    /// [<see cref="FlatSize"/>] arrays of m and v holding this process's moments at their places in the flattened
    /// parameters and zeros elsewhere, for a caller to fill in from the ranks that hold the rest before
    /// <see cref="SetGatheredMoments"/>.
    /// </summary>
    public (float[] M, float[] V) HeldMomentsFlattened()
    {
        var m = new float[FlatSize];
        var v = new float[FlatSize];
        for (int i = 0; i < _params.Count; i++)
        {
            var (start, length) = OwnedPart(i);
            if (_m[i].Length != length) continue;   // SGD keeps no moments
            _m[i].CopyTo(m, _offset[i] + start);
            _v[i].CopyTo(v, _offset[i] + start);
        }
        return (m, v);
    }

    /// <summary>Every rank's moments, flattened ([<see cref="FlatSize"/>] each), for the next <see cref="Save"/> of a sharded state.</summary>
    public void SetGatheredMoments(float[] m, float[] v)
    {
        if (m.LongLength < FlatSize || v.LongLength < FlatSize)
            throw new ArgumentException($"The gathered moments hold {m.LongLength} and {v.LongLength} floats; the parameters have {FlatSize}.");
        (_gatheredM, _gatheredV) = (m, v);
    }

    /// <summary>
    /// Writes the step count and every moment (float32, parameter order): the whole model's, so a state saved with a
    /// shard resumes with any shard or none. An optimiser that does not hold every moment writes those gathered by
    /// <see cref="SetGatheredMoments"/> (<see cref="DataParallel.GatherOptimizerState"/> for ZeRO-1,
    /// <see cref="ExpertParallel.GatherWholeModel"/> for expert parallelism, on every rank first).
    /// </summary>
    public void Save(BinaryWriter writer)
    {
        bool adam = Options.Kind == OptimizerKind.AdamW;
        if (!HoldsAll && adam && _gatheredM is null)
            throw new InvalidOperationException("This optimiser holds part of the moments: they must be gathered from every rank before rank 0 saves them.");
        writer.Write(StepCount);
        writer.Write(_params.Count);
        for (int i = 0; i < _params.Count; i++)
        {
            writer.Write(_params[i].Name);
            if (HoldsAll || !adam)
            {
                WriteFloats(writer, _m[i]);
                WriteFloats(writer, _v[i]);
            }
            else
            {
                WriteFloats(writer, _gatheredM.AsSpan((int)_offset[i], _params[i].Size));
                WriteFloats(writer, _gatheredV.AsSpan((int)_offset[i], _params[i].Size));
            }
        }
        (_gatheredM, _gatheredV) = (null, null);
    }

    /// <summary>Reads a state written by <see cref="Save"/> (with a shard or without); a shard (or an expert-parallel rank) keeps its own part.</summary>
    public void Load(BinaryReader reader)
    {
        StepCount = reader.ReadInt64();
        int count = reader.ReadInt32();
        if (count != _params.Count) throw new CheckpointException($"The training state has {count} parameters' moments, the model has {_params.Count}.");
        bool adam = Options.Kind == OptimizerKind.AdamW;
        float[] whole = [];
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (name != _params[i].Name) throw new CheckpointException($"The training state's moment #{i} is for '{name}', expected '{_params[i].Name}'.");
            if (HoldsAll || !adam)
            {
                ReadFloats(reader, _m[i], name);
                ReadFloats(reader, _v[i], name);
                continue;
            }
            // Read the whole parameter's moments and keep the owned part.
            if (whole.Length < _params[i].Size) whole = new float[_params[i].Size];
            var (start, length) = OwnedPart(i);
            ReadFloats(reader, whole.AsSpan(0, _params[i].Size), name);
            whole.AsSpan(start, length).CopyTo(_m[i]);
            ReadFloats(reader, whole.AsSpan(0, _params[i].Size), name);
            whole.AsSpan(start, length).CopyTo(_v[i]);
        }
    }

    private static void WriteFloats(BinaryWriter w, ReadOnlySpan<float> values)
    {
        w.Write(values.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }

    private static void ReadFloats(BinaryReader r, Span<float> into, string name)
    {
        int n = r.ReadInt32();
        if (n != into.Length) throw new CheckpointException($"The training state holds {n} moment values for '{name}', expected {into.Length}.");
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(into);
        if (r.Read(bytes) != bytes.Length) throw new CheckpointException($"The training state ends inside the moments of '{name}'.");
    }
}

/// <summary>The loss or the gradients became NaN or infinite.</summary>
public sealed class TrainingDivergedException(string message) : SeekSharpException(message);
