using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Net.Sockets;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// A standalone <c>redis-server</c> process on a free port of 127.0.0.1, without persistence,
/// killed and waited for on dispose. A server that cannot start is a failure, never a skip.
/// </summary>
internal sealed class RedisServerProcess : IAsyncDisposable
{
    private const int StartAttempts = 3; // a free port can be taken between finding and binding it
    private const int OutputLinesKept = 50;
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private RedisServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    private string Output => string.Join(Environment.NewLine, _output);

    public static async Task<RedisServerProcess> StartAsync()
    {
        var failures = new List<string>();
        for (var attempt = 1; attempt <= StartAttempts; attempt++)
        {
            var server = Launch(RedisFaultProxy.FindFreePorts(1)[0]);
            try
            {
                await Poll.UntilAsync(server.RespondsToPingAsync, ready => ready, ReadyDeadline);
                return server;
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                failures.Add($"attempt {attempt}, port {server.Port}: {ex.Message}{Environment.NewLine}{server.Output}");
                await server.DisposeAsync();
            }
        }

        throw new InvalidOperationException(
            $"redis-server did not start after {StartAttempts} attempts:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        using (var deadline = new CancellationTokenSource(ExitDeadline))
        {
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                // Reported by the pgrep check of the run, not by a throwing dispose.
            }
        }

        _process.Dispose();
    }

    private static RedisServerProcess Launch(int port)
    {
        var startInfo = new ProcessStartInfo("redis-server")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var arg in new[] { "--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            startInfo.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = startInfo };
        var server = new RedisServerProcess(process, port);
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new InvalidOperationException("Cannot run redis-server: install it (apt-get install redis-server) and put it on PATH.", ex);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > OutputLinesKept && _output.TryDequeue(out _))
        {
        }
    }

    private async Task<bool> RespondsToPingAsync()
    {
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"redis-server on port {Port} exited with code {_process.ExitCode}.");
        }

        try
        {
            await using var connection = await RespConnection.ConnectAsync(Port);
            return await connection.ExecuteAsync("PING") is "PONG";
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}
