namespace SeekSharp.Training;

/// <summary>One row of a published cost table: GPU-hours and their price.</summary>
public sealed record ReportedStage(string Stage, double GpuHours, double Dollars);
