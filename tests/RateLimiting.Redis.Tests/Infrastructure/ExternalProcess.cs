using System.ComponentModel;
using System.Diagnostics;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>Runs a command line with a deadline and captures its output.</summary>
internal static class ExternalProcess
{
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception exception)
        {
            throw new InvalidOperationException($"Could not run '{fileName}': {exception.Message}. Is it installed and on PATH?", exception);
        }

        var standardOutput = process.StandardOutput.ReadToEndAsync();
        var standardError = process.StandardError.ReadToEndAsync();
        var timedOut = false;
        using (var deadline = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The whole tree: a script's children (redis-cli, redis-server before it
                // daemonizes) would otherwise keep running and keep our pipes open.
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        // A grandchild that kept our pipes open must not hang the test run.
        var outputs = Task.WhenAll(standardOutput, standardError);
        await outputs.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return new ProcessResult(process.ExitCode, timedOut, outputs.Result[0], outputs.Result[1]);
    }
}
