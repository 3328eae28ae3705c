using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using SeekSharp.Training.Data;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>The optimiser, the schedule, the bias balancer and the data formats, each against its definition.</summary>
public class TrainingPartsTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("seeksharp-parts-").FullName;
    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static DeepSeekModel TinyModel()
    {
        var m = DeepSeekModel.Create(Presets.Get("tiny") with { VocabSize = 64, NumHiddenLayers = 2 });
        ModelInitializer.Initialize(m, 1);
        foreach (var p in m.Parameters) p.EnsureGrad();
        return m;
    }

    [Fact]
    public void AdamWFollowsItsDefinitionAndDecaysMatricesOnly()
    {
        var model = TinyModel();
        var opt = new Optimizer(model, new OptimizerOptions { WeightDecay = 0.1, GradClip = 0 });
        var rng = new Random(2);
        var before = model.Parameters.ToDictionary(p => p, p => (float[])p.Data!.Clone());
        var m = model.Parameters.ToDictionary(p => p, p => new double[p.Size]);
        var v = model.Parameters.ToDictionary(p => p, p => new double[p.Size]);
        using var pool = new WorkerPool(2);
        for (int step = 1; step <= 3; step++)
        {
            foreach (var p in model.Parameters)
                for (int i = 0; i < p.Size; i++) p.Grad![i] = (float)(rng.NextDouble() - 0.5);
            var grads = model.Parameters.ToDictionary(p => p, p => (float[])p.Grad!.Clone());
            opt.Step(pool, 1e-2);
            foreach (var p in opt.Parameters)
            {
                double decay = p.Role is ParameterRole.Matrix or ParameterRole.Embedding ? 0.1 : 0;
                for (int i = 0; i < Math.Min(p.Size, 50); i++)
                {
                    double g = grads[p][i];
                    m[p][i] = 0.9 * m[p][i] + 0.1 * g;
                    v[p][i] = 0.95 * v[p][i] + 0.05 * g * g;
                    double mh = m[p][i] / (1 - Math.Pow(0.9, step)), vh = v[p][i] / (1 - Math.Pow(0.95, step));
                    double expected = before[p][i] * (1 - 1e-2 * decay) - 1e-2 * mh / (Math.Sqrt(vh) + 1e-8);
                    Assert.True(Math.Abs(expected - p.Data![i]) < 1e-5, $"{p.Name}[{i}] step {step}: {p.Data[i]} vs {expected}");
                    before[p][i] = (float)expected;
                }
            }
        }
    }

    [Fact]
    public void ClippingScalesTheGradientToTheLimit()
    {
        var model = TinyModel();
        var opt = new Optimizer(model, new OptimizerOptions { Kind = OptimizerKind.Sgd, WeightDecay = 0, GradClip = 1.0 });
        foreach (var p in opt.Parameters) Array.Fill(p.Grad!, 1f);
        double norm = opt.GradientNorm();
        var w0 = opt.Parameters[0].Data![0];
        using var pool = new WorkerPool(1);
        Assert.Equal(norm, opt.Step(pool, 1.0), 6);
        Assert.Equal(w0 - 1.0 / norm, opt.Parameters[0].Data![0], 5);
        foreach (var p in opt.Parameters) p.Grad![0] = float.NaN;
        Assert.Throws<TrainingDivergedException>(() => opt.Step(pool, 1.0));
    }

    [Fact]
    public void ScheduleWarmsUpThenDecays()
    {
        var s = new LearningRateSchedule { Peak = 1.0, Minimum = 0.1, Warmup = 10, TotalSteps = 110 };
        Assert.Equal(0.1, s.At(0), 9);
        Assert.Equal(1.0, s.At(9), 9);
        Assert.Equal(1.0, s.At(10), 9);
        Assert.Equal(0.55, s.At(60), 9);         // halfway through the cosine
        Assert.Equal(0.1, s.At(110), 9);
        var report = s with { Shape = ScheduleShape.ConstantThenCosine, DecayStart = 0.5 };
        Assert.Equal(1.0, report.At(54), 9);
        Assert.True(report.At(80) < 1.0 && report.At(80) > 0.1);
        Assert.Equal(1.0, (s with { Shape = ScheduleShape.Constant }).At(100), 9);
        Assert.Throws<InvalidInputException>(() => (s with { Minimum = 2 }).Validate());
    }

    [Fact]
    public void BiasMovesTowardsBalanceAndMaxVioIsMeasured()
    {
        var model = TinyModel();
        var layer = model.Layers[1];
        var loads = Enumerable.Range(0, 16).Select(i => i == 3 ? 40 : 2).ToArray();   // expert 3 overloaded
        var balance = new ExpertBiasBalancer.LayerBalance(1, loads, (40 - loads.Average()) / loads.Average());
        ExpertBiasBalancer.Update(model, [balance], 0.01);
        var b = layer.Moe!.Router.Bias!.Span;
        Assert.Equal(-0.01f, b[3], 6);
        Assert.Equal(0.01f, b[0], 6);
        Assert.Equal((40 - 4.375) / 4.375, balance.MaxVio, 9);
    }

    [Fact]
    public void DataFormatsAreReadAndBadOnesAreClearErrors()
    {
        // llm.c v1 (uint16) and v2 (uint32), raw uint16, JSON rows, a folder of text files.
        var ids = Enumerable.Range(0, 300).Select(i => i % 250).ToArray();
        var bin = Path.Combine(_tmp, "a.bin");
        DatasetLoader.WriteBin(bin, ids);
        Assert.Equal(ids, DatasetLoader.ReadBin(bin));
        var wide = Enumerable.Range(0, 10).Select(i => 70000 + i).ToArray();
        DatasetLoader.WriteBin(bin, wide);
        Assert.Equal(wide, DatasetLoader.ReadBin(bin));
        var raw = Path.Combine(_tmp, "raw.bin");
        File.WriteAllBytes(raw, ids.SelectMany(i => BitConverter.GetBytes((ushort)i)).ToArray());
        Assert.Equal(ids, DatasetLoader.ReadBin(raw));
        File.WriteAllBytes(raw, new byte[3]);
        Assert.Contains("even size", Assert.Throws<InvalidInputException>(() => DatasetLoader.ReadBin(raw)).Message);

        var json = Path.Combine(_tmp, "rows.json");
        File.WriteAllText(json, "[[1,2,3],[4,5,6]]");
        var rows = DatasetLoader.Open(json, 10, null, null, 0);
        var cursor = DataCursor.Start(1);
        var tokens = new List<int>();
        Assert.Equal(new BatchLayout(2, 3), rows.NextBatch(ref cursor, 2, 99, tokens));
        Assert.Equal([1, 2, 3, 4, 5, 6], tokens);
        File.WriteAllText(json, "[[1,2,3],[4,99]]");
        Assert.Contains("token id 99", Assert.Throws<InvalidInputException>(() => DatasetLoader.Open(json, 10, null, null, 0)).Message);
        File.WriteAllText(json, "[[1,2,3],[4,\"x\"]]");
        Assert.Contains("row 1", Assert.Throws<InvalidInputException>(() => DatasetLoader.Open(json, 10, null, null, 0)).Message);
        File.WriteAllText(json, "{not json");
        Assert.Contains("not valid JSON", Assert.Throws<InvalidInputException>(() => DatasetLoader.Open(json, 10, null, null, 0)).Message);

        var folder = Path.Combine(_tmp, "docs");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "b.txt"), "bb");
        File.WriteAllText(Path.Combine(folder, "a.txt"), "a");
        var stream = DatasetLoader.Open(folder, 300, null, 299, 0);
        Assert.Equal(4, stream.TrainTokens);                        // "a", separator, "bb"
        var c2 = DataCursor.Start(5);
        var t2 = new List<int>();
        stream.NextBatch(ref c2, 3, 2, t2);
        Assert.All(t2, id => Assert.Contains(id, new[] { 'a', 'b', 299 }));
    }

    [Fact]
    public void ValidationWindowsAreFixedAndDisjointFromTraining()
    {
        var ids = Enumerable.Range(0, 1000).Select(i => i % 97).ToArray();
        var data = new StreamDataset(ids, 0.1, 100, "test");
        Assert.Equal(900, data.TrainTokens);
        var a = data.ValidationBatches(2, 10, 3).Select(b => b.Tokens).ToArray();
        var b = data.ValidationBatches(2, 10, 3).Select(b => b.Tokens).ToArray();
        Assert.Equal(3, a.Length);
        Assert.Equal(a, b);
        Assert.Equal(ids.Skip(900).Take(20), a[0]);
        var cursor = DataCursor.Start(9);
        var again = cursor;
        var t1 = new List<int>();
        var t2 = new List<int>();
        data.NextBatch(ref cursor, 4, 50, t1);
        data.NextBatch(ref again, 4, 50, t2);
        Assert.Equal(t1, t2);                                      // the cursor alone decides the batch
    }
}
