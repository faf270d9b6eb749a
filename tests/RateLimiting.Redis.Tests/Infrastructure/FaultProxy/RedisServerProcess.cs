using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Net.Sockets;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// A <c>redis-server</c> process on a free port of 127.0.0.1, without persistence, killed and
/// waited for on dispose: standalone, or a cluster node in no cluster yet
/// (<see cref="StartClusterNodeAsync"/>). A server that cannot start is a failure, never a skip.
/// </summary>
internal sealed class RedisServerProcess : IAsyncDisposable
{
    private const int StartAttempts = 3; // a free port can be taken between finding and binding it
    private const int OutputLinesKept = 50;
    private const string ClusterNodeTimeoutMilliseconds = "2000"; // eng/redis-cluster.sh's: failures are detected in seconds
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly string? _directory;
    private readonly ConcurrentQueue<string> _output = new();

    private RedisServerProcess(Process process, int port, int? clusterBusPort, string? directory)
    {
        _process = process;
        Port = port;
        ClusterBusPort = clusterBusPort;
        _directory = directory;
    }

    public int Port { get; }

    /// <summary>A cluster node's bus port, another free port (not <see cref="Port"/> + 10000, which can exceed 65535); <see langword="null"/> for a standalone server.</summary>
    public int? ClusterBusPort { get; }

    private string Output => string.Join(Environment.NewLine, _output);

    /// <summary>Starts a standalone server.</summary>
    public static Task<RedisServerProcess> StartAsync() => StartAsync(clusterNode: false);

    /// <summary>
    /// Starts a cluster-enabled node that belongs to no cluster until a <c>CLUSTER MEET</c>. It
    /// announces its real port, keeps its nodes file in a directory of its own (deleted on dispose)
    /// and uses <c>eng/redis-cluster.sh</c>'s cluster-node-timeout.
    /// </summary>
    public static Task<RedisServerProcess> StartClusterNodeAsync() => StartAsync(clusterNode: true);

    private static async Task<RedisServerProcess> StartAsync(bool clusterNode)
    {
        var failures = new List<string>();
        for (var attempt = 1; attempt <= StartAttempts; attempt++)
        {
            var ports = RedisFaultProxy.FindFreePorts(clusterNode ? 2 : 1);
            var server = Launch(ports[0], clusterNode ? ports[1] : null);
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
        if (_directory is not null)
        {
            ClusterScript.TryDeleteDirectory(_directory);
        }
    }

    private static RedisServerProcess Launch(int port, int? clusterBusPort)
    {
        var directory = clusterBusPort is null
            ? null
            : Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "rl-node-" + Guid.NewGuid().ToString("N"))).FullName;
        var startInfo = new ProcessStartInfo("redis-server")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory ?? Path.GetTempPath(),
        };
        string[] arguments = ["--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        if (clusterBusPort is { } busPort)
        {
            arguments =
            [
                .. arguments,
                "--dir", directory!,
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", $"{busPort}",
                "--cluster-node-timeout", ClusterNodeTimeoutMilliseconds,
            ];
        }

        foreach (var arg in arguments)
        {
            startInfo.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = startInfo };
        var server = new RedisServerProcess(process, port, clusterBusPort, directory);
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            if (directory is not null)
            {
                ClusterScript.TryDeleteDirectory(directory);
            }

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
