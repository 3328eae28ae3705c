using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Training;
using SeekSharp.Training.Data;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>Model FLOPs utilisation: never above 1, whatever the baseline peak, and counted on the work a step does.</summary>
public class MfuTests
{
    [Fact]
    public void AStepFasterThanTheMeasuredPeakReadsOneAndRaisesThePeak()
    {
        var meter = new MfuMeter(50e9);   // a measured peak lower than what training achieves
        Assert.Equal(0.5, meter.Observe(25e9));
        Assert.Equal(1.0, meter.Observe(80e9));
        Assert.Equal(80e9, meter.PeakFlops);
        Assert.Equal(50e9, meter.BaselinePeakFlops);
        Assert.Equal(0.5, meter.Observe(40e9));   // later steps are measured against the best rate so far
        var rng = new Random(3);
        for (int i = 0; i < 1000; i++) Assert.InRange(meter.Observe(rng.NextDouble() * 200e9), 0, 1);
        Assert.Equal(0, meter.Observe(double.PositiveInfinity));   // a step too short to time
        Assert.Throws<InvalidInputException>(() => new MfuMeter(0));
        Assert.Throws<InvalidInputException>(() => new MfuMeter(double.NaN));
    }

    [Fact]
    public void TrainingStepsReportAtMostOneAgainstATooLowPeak()
    {
        using var pool = new WorkerPool(2);
        var trainer = NewTrainer(pool, mtpLambda: 0.3);
        trainer.Utilisation = new MfuMeter(1);   // 1 FLOP/s: every step beats it
        for (int i = 0; i < 3; i++)
        {
            var m = trainer.TrainStep();
            Assert.InRange(m.Mfu, 1e-9, 1);
        }
        Assert.True(trainer.Utilisation.PeakFlops > 1e6);
        Assert.Equal(0, NewTrainer(pool, mtpLambda: 0.3).TrainStep().Mfu);   // no meter, no figure
    }

    [Fact]
    public void FlopsPerTokenCountWhatTheStepComputes()
    {
        using var pool = new WorkerPool(2);
        var withMtp = NewTrainer(pool, mtpLambda: 0.3);
        var full = CostModel.For(withMtp.Model.Config, withMtp.Options.SeqLen, AttentionSpan.Full).Training;
        // The naive attention multiplies the whole T × T square in the forward and the backward: Full, not Causal.
        Assert.Equal(full.Total, withMtp.FlopsPerToken);
        Assert.True(full.Total > CostModel.For(withMtp.Model.Config, withMtp.Options.SeqLen).Training.Total);
        // Without the MTP loss the step does not run the MTP modules.
        Assert.Equal(full.Main.Total, NewTrainer(pool, mtpLambda: 0).FlopsPerToken);
    }

    [Fact]
    public void TheMeasuredPeakIsAPlausibleRate()
    {
        using var pool = new WorkerPool(2);
        double peak = GemmPeak.Measure(pool, secondsPerShape: 0.02);
        Assert.InRange(peak, 1e8, 1e14);   // between 0.1 GFLOP/s and 100 TFLOP/s on two threads
    }

    private static Trainer NewTrainer(WorkerPool pool, double mtpLambda)
    {
        var model = DeepSeekModel.Create(Presets.Get("tiny") with { VocabSize = 64 });
        ModelInitializer.Initialize(model, 1);
        Assert.NotEmpty(model.Mtp);
        var rng = new Random(1);
        var rows = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 16).Select(_ => rng.Next(64)).ToArray()).ToArray();
        var options = new TrainingOptions { Steps = 3, BatchSize = 2, SeqLen = 16, DataPath = "rows", Loss = new LossWeights { MtpLambda = mtpLambda } };
        return new Trainer(model, new RowDataset(rows, 0, 64, "rows"), options, pool);
    }
}
