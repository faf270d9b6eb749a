namespace RateLimiting.Testing;

/// <summary>How an external process ended, and what it printed.</summary>
public sealed record ProcessResult(int ExitCode, bool TimedOut, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Both streams, for failure messages.</summary>
    public string Output => $"{(TimedOut ? "(killed at the deadline) " : string.Empty)}exit code {ExitCode}{Environment.NewLine}"
        + $"--- stdout{Environment.NewLine}{StandardOutput}--- stderr{Environment.NewLine}{StandardError}";
}
