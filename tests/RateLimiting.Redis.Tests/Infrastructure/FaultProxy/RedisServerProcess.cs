using System.Net.Sockets;
using RateLimiting.Testing;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// A <c>redis-server</c> process on a free port of 127.0.0.1, without persistence, killed and
/// waited for on dispose: standalone, or a cluster node in no cluster yet
/// (<see cref="StartClusterNodeAsync"/>). A server that cannot start is a failure, never a skip.
/// </summary>
internal sealed class RedisServerProcess : IAsyncDisposable
{
    private const int StartAttempts = 3; // a free port can be taken between finding and binding it
    private const string ClusterNodeTimeoutMilliseconds = "2000"; // eng/redis-cluster.sh's: failures are detected in seconds
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(10);

    private readonly RunningProcess _process;
    private readonly string? _directory;
    private int _stopped;

    private RedisServerProcess(RunningProcess process, int port, int? clusterBusPort, string? directory)
    {
        _process = process;
        Port = port;
        ClusterBusPort = clusterBusPort;
        _directory = directory;
    }

    public int Port { get; }

    /// <summary>A cluster node's bus port, another free port (not <see cref="Port"/> + 10000, which can exceed 65535); <see langword="null"/> for a standalone server.</summary>
    public int? ClusterBusPort { get; }

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
                failures.Add($"attempt {attempt}, port {server.Port}: {ex.Message}{Environment.NewLine}{await server.StopAsync()}");
            }
        }

        throw new InvalidOperationException(
            $"redis-server did not start after {StartAttempts} attempts:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>Kills the server (once; later calls do nothing), deletes its directory and returns what it printed, for failure messages.</summary>
    private async Task<string> StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return string.Empty;
        }

        try
        {
            return (await _process.StopAsync(ExitDeadline)).Output;
        }
        catch (TimeoutException ex)
        {
            // Reported by the pgrep check of the run, not by a throwing dispose.
            return ex.Message;
        }
        finally
        {
            if (_directory is not null)
            {
                ClusterScript.TryDeleteDirectory(_directory);
            }
        }
    }

    private static RedisServerProcess Launch(int port, int? clusterBusPort)
    {
        var directory = clusterBusPort is null
            ? null
            : Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "rl-node-" + Guid.NewGuid().ToString("N"))).FullName;
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

        try
        {
            var process = ExternalProcess.Start("redis-server", arguments, directory ?? Path.GetTempPath());
            return new RedisServerProcess(process, port, clusterBusPort, directory);
        }
        catch (InvalidOperationException ex)
        {
            if (directory is not null)
            {
                ClusterScript.TryDeleteDirectory(directory);
            }

            throw new InvalidOperationException("Cannot run redis-server: install it (apt-get install redis-server) and put it on PATH.", ex);
        }
    }

    private async Task<bool> RespondsToPingAsync()
    {
        if (_process.HasExited)
        {
            // Its exit code follows in the failure message, with what it printed.
            throw new InvalidOperationException($"redis-server on port {Port} exited.");
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
