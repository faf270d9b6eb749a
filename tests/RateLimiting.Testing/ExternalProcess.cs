using System.ComponentModel;
using System.Diagnostics;

namespace RateLimiting.Testing;

/// <summary>
/// Runs the command-line tools that tests and benchmarks drive (redis-server, redis-cli, the eng/
/// scripts, redis-benchmark, wrk), always with a deadline, capturing what they print.
/// </summary>
public static class ExternalProcess
{
    /// <summary>Runs a tool to its end; one still running at <paramref name="timeout"/> is killed with its children.</summary>
    public static Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
        => Start(fileName, arguments).WaitAsync(timeout);

    /// <summary>
    /// Starts a tool now and returns at once, so that several can run together (one redis-benchmark
    /// per master) or a server can run until it is stopped; <see cref="RunningProcess.WaitAsync"/>
    /// or <see cref="RunningProcess.StopAsync"/> ends it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tool could not be started, typically because it is not installed.</exception>
    public static RunningProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(arguments);
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            startInfo.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception exception)
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not run '{fileName}': {exception.Message}. Is it installed and on PATH?", exception);
        }

        // Nobody types into these tools: one that would read its input (a prompt, a redis-cli
        // without a command) sees end-of-file at once instead of waiting out its deadline.
        process.StandardInput.Close();
        return new RunningProcess(process);
    }
}
