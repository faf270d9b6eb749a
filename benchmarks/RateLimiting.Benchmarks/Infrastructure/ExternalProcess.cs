using System.Diagnostics;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>Runs a tool (redis-benchmark, wrk) with a deadline; a tool past it is killed with its children.</summary>
internal static class ExternalProcess
{
    public static Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
        => Start(fileName, arguments).WaitAsync(timeout);

    /// <summary>Starts the tool now; <see cref="RunningProcess.WaitAsync"/> collects it. Lets several run at once.</summary>
    public static RunningProcess Start(string fileName, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        return new RunningProcess(process);
    }
}
