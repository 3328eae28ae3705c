namespace SeekSharp.Inference;

/// <summary>
/// What <see cref="StopStringMatcher.Append"/> decided: <paramref name="Emit"/> is safe to show now;
/// <paramref name="Stopped"/> says a stop string was completed (generation should end), and
/// <paramref name="MatchedStop"/> is which one (null when not stopped).
/// </summary>
public readonly record struct StopResult(string Emit, bool Stopped, string? MatchedStop);
