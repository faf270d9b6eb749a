using System.Globalization;
using System.Net;
using System.Net.Sockets;
using RateLimiting.Testing;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>What every cluster fixture needs to drive <c>eng/redis-cluster.sh</c>: free ports, the script, clean-up.</summary>
internal static class ClusterScript
{
    public const int NodeCount = 6;

    /// <summary>eng/redis-cluster.sh's exit code when a port was taken: retry on others.</summary>
    public const int PortInUseExitCode = 3;

    private const int BusPortOffset = 10000;
    private const int MinBasePort = 20000;
    private const int MaxBasePort = 29990;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static Task<ProcessResult> RunAsync(string command, int basePort, string dataDirectory, params string[] extraArguments)
    {
        string[] arguments =
        [
            Path.Combine(RepositoryRoot, "eng", "redis-cluster.sh"),
            command,
            "--base-port", basePort.ToString(CultureInfo.InvariantCulture),
            "--dir", dataDirectory,
            .. extraArguments,
        ];
        return ExternalProcess.RunAsync("bash", arguments, Timeout);
    }

    /// <summary>
    /// A base port whose six client ports and six bus ports are free right now (and not in
    /// <paramref name="reserved"/>). Another process can still take one before the nodes bind it;
    /// the fixtures retry on other ports then.
    /// </summary>
    public static int PickFreeBasePort(IReadOnlyCollection<int>? reserved = null)
    {
        for (var candidate = 0; candidate < 100; candidate++)
        {
            var basePort = Random.Shared.Next(MinBasePort, MaxBasePort + 1);
            var clientPorts = Enumerable.Range(basePort, NodeCount).ToArray();
            var ports = clientPorts.Concat(clientPorts.Select(port => port + BusPortOffset)).ToArray();
            if ((reserved is null || !ports.Intersect(reserved).Any()) && ports.All(IsFree))
            {
                return basePort;
            }
        }

        throw new InvalidOperationException($"No free base port in {MinBasePort}..{MaxBasePort} after 100 tries.");
    }

    /// <summary>Kills the node on <paramref name="nodePort"/> with SIGKILL, as a crash would, and waits until it is gone.</summary>
    public static async Task KillNodeAsync(string dataDirectory, int nodePort, TimeSpan deadline)
    {
        var pid = int.Parse(File.ReadAllText(Path.Combine(dataDirectory, $"node-{nodePort}.pid")).Trim(), CultureInfo.InvariantCulture);
        using (var process = System.Diagnostics.Process.GetProcessById(pid))
        {
            process.Kill(); // SIGKILL on Unix
        }

        // Not our child (the node daemonized), so no WaitForExit: watch /proc until it is dead (gone, or a zombie).
        await Poll.UntilAsync(() => Task.FromResult(IsDead(pid)), dead => dead, deadline);
    }

    private static bool IsDead(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "<pid> (<comm>) <state> ..."; Z is a zombie nobody reaped yet.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return true;
        }
    }

    public static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
            // Left in the temp directory; nothing in it is needed any more.
        }
    }

    private static bool IsFree(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RateLimiting.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No RateLimiting.sln in {AppContext.BaseDirectory} or any folder above it.");
    }
}
