namespace SeekSharp.Cli;

/// <summary>
/// Runs a command body and maps failures to exit codes: 0 success, 1 a library error (one line on stderr),
/// 2 bad usage, 130 cancelled by Ctrl+C.
/// </summary>
internal static class CliRunner
{
    public const int Ok = 0, Failed = 1, Usage = 2, Cancelled = 130;

    public static int Guard(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Usage;
        }
        catch (SeekSharpException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Failed;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("cancelled");
            return Cancelled;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Failed;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Failed;
        }
    }
}

/// <summary>A flag combination that makes no sense (both or neither of two exclusive options, say).</summary>
internal sealed class UsageException(string message) : Exception(message);
