using System.Text.Json;
using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Golden;

/// <summary>One training step's loss and every parameter's gradient against the golden grads (float64 autograd reference).</summary>
public class GoldenGradientTests(ITestOutputHelper output)
{
    private static readonly WorkerPool Pool = new(2);

    internal static (int[] Tokens, int Batch, int Seq, JsonElement Json) ReadBatch(GoldenCase g)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(g.Dir, "grads.json")));
        var json = doc.RootElement.Clone();
        var rows = json.GetProperty("tokens").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        return (rows.SelectMany(r => r).ToArray(), rows.Length, rows[0].Length, json);
    }

    [Theory]
    [MemberData(nameof(GoldenCase.All), MemberType = typeof(GoldenCase))]
    public void LossAndEveryGradientMatch(string name)
    {
        var g = new GoldenCase(name);
        var (tokens, batch, seq, json) = ReadBatch(g);
        var model = ModelLoader.Load(g.Dir);
        foreach (var p in model.Parameters) p.EnsureGrad();
        var ctx = new ForwardContext(Pool) { SaveActivations = true };
        var state = model.CreateState();
        model.Forward(ctx, tokens, new BatchLayout(batch, seq), state, new ForwardRequest { RunMtp = true });
        var (loss, grads) = TrainingLoss.Compute(ctx, model, state, new LossWeights());
        model.Backward(ctx, state, grads.DLogits, grads.DMtpLogits, grads.Balance);

        output.WriteLine($"{name}: loss {loss.Total:F9} main {loss.Main:F9} mtp {loss.Mtp:F9} balance {loss.Balance:F9}");
        Assert.Equal(json.GetProperty("loss_main").GetDouble(), loss.Main, 5);
        Assert.Equal(json.GetProperty("loss_mtp").GetDouble(), loss.Mtp, 5);
        Assert.Equal(json.GetProperty("loss_balance").GetDouble(), loss.Balance, 5);
        Assert.Equal(json.GetProperty("loss").GetDouble(), loss.Total, 5);

        double worst = 0;
        string worstName = "";
        using var reference = SafetensorsFile.Open(Path.Combine(g.Dir, "grads.safetensors"));
        int checkedTensors = 0;
        foreach (var (tensorName, p) in model.NamedParameters())
        {
            if (p.Role == ParameterRole.ExpertBias) continue;   // not trained by gradients (docs/architecture.md §10.1)
            var expected = new float[p.Size];
            reference.ReadFloat32(tensorName, expected);
            double err = TestUtil.RelativeError(p.Grad, expected);
            if (err > worst) { worst = err; worstName = tensorName; }
            TestUtil.AssertClose(p.Grad, expected, 1e-4, $"{name} grad {tensorName}");
            checkedTensors++;
        }
        output.WriteLine($"{name}: {checkedTensors} gradient tensors, worst relative error {worst:E2} ({worstName})");
    }
}
