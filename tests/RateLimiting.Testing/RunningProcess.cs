using System.Diagnostics;

namespace RateLimiting.Testing;

/// <summary>
/// A started tool whose output is being read. <see cref="WaitAsync"/> or <see cref="StopAsync"/>
/// ends it, once, and releases it.
/// </summary>
public sealed class RunningProcess
{
    // A grandchild (a daemon a script started) can inherit our pipes and hold them open after the
    // tool exits: its output is not worth hanging the run for.
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly Task<string> _standardOutput;
    private readonly Task<string> _standardError;
    private int _ended;

    internal RunningProcess(Process process)
    {
        _process = process;
        // Read from the start: a tool that fills a pipe nobody drains blocks before it exits.
        _standardOutput = process.StandardOutput.ReadToEndAsync();
        _standardError = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Whether the process has exited, e.g. a server that could not bind its port.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the tool to exit; at <paramref name="timeout"/> it is killed with its children and the result says so.</summary>
    public Task<ProcessResult> WaitAsync(TimeSpan timeout) => EndAsync(killNow: false, timeout);

    /// <summary>Kills the process and its children now (a server that is no longer needed) and returns what it printed.</summary>
    /// <exception cref="TimeoutException">It had not exited <paramref name="timeout"/> after the kill.</exception>
    public Task<ProcessResult> StopAsync(TimeSpan timeout) => EndAsync(killNow: true, timeout);

    private async Task<ProcessResult> EndAsync(bool killNow, TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            throw new InvalidOperationException("The process has already been waited for or stopped.");
        }

        using (_process)
        {
            var timedOut = false;
            if (killNow)
            {
                KillTree();
            }

            using (var deadline = new CancellationTokenSource(timeout))
            {
                try
                {
                    await _process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (killNow)
                {
                    throw new TimeoutException($"{_process.StartInfo.FileName} had not exited {timeout} after it was killed.");
                }
                catch (OperationCanceledException)
                {
                    // The whole tree: a script's children (redis-cli, a redis-server before it
                    // daemonizes) would otherwise keep running and keep our pipes open.
                    timedOut = true;
                    KillTree();
                    await _process.WaitForExitAsync().ConfigureAwait(false);
                }
            }

            var outputs = Task.WhenAll(_standardOutput, _standardError);
            await outputs.WaitAsync(OutputGrace).ConfigureAwait(false);
            return new ProcessResult(_process.ExitCode, timedOut, outputs.Result[0], outputs.Result[1]);
        }
    }

    private void KillTree()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the deadline and the kill.
        }
    }
}
