using System.Diagnostics;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>A started tool whose output is being read; <see cref="WaitAsync"/> ends it by its deadline.</summary>
internal sealed class RunningProcess
{
    private readonly Process _process;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    public RunningProcess(Process process)
    {
        _process = process;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public async Task<ProcessResult> WaitAsync(TimeSpan timeout)
    {
        using (_process)
        {
            var timedOut = false;
            using (var deadline = new CancellationTokenSource(timeout))
            {
                try
                {
                    await _process.WaitForExitAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    timedOut = true;
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }

            var elapsed = Stopwatch.GetElapsedTime(_started);
            return new ProcessResult(_process.ExitCode, await _stdout, await _stderr, timedOut, elapsed);
        }
    }
}
