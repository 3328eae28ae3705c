namespace SeekSharp.Training;

/// <summary>A stretch of training at one sequence length: <see cref="Steps"/> optimizer steps of
/// <see cref="BatchSequences"/> sequences of <see cref="SequenceLength"/> tokens.</summary>
public sealed record TrainingPhase(int SequenceLength, int BatchSequences, int Steps)
{
    public double Tokens => (double)SequenceLength * BatchSequences * Steps;
}
