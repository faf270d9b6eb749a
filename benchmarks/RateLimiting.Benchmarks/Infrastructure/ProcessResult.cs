namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>What an external tool printed and how it ended.</summary>
internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError, bool TimedOut, TimeSpan Elapsed)
{
    public bool Succeeded => !TimedOut && ExitCode == 0;

    public string Output => $"exit code {ExitCode}{(TimedOut ? " (timed out)" : string.Empty)}{Environment.NewLine}{StandardOutput}{StandardError}";
}
