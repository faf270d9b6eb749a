using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// A one-node cluster that completes a client's handshake, its first CLUSTER NODES included, and
/// then stops answering on that connection: a node that stalls right after accepting a client. No
/// real node can be made to stall at exactly that point. A connect that waits there for its
/// second CLUSTER NODES must not hold the store. Bytes are handled as Latin-1, so
/// that the client's binary tracer echoes back unchanged.
/// </summary>
internal sealed class StallingClusterNode : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private int _stalledConnections;

    private StallingClusterNode()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Gets how many connections went silent after a second CLUSTER NODES.</summary>
    public int StalledConnections => Volatile.Read(ref _stalledConnections);

    public static StallingClusterNode Start() => new();

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(_stopping.Token);
                connections.Add(ServeAsync(client));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopping.
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(Socket client)
    {
        using var stream = new NetworkStream(client, ownsSocket: true);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var clusterNodes = 0;
        try
        {
            while (await ReadCommandAsync(reader, _stopping.Token) is { } command)
            {
                var verb = command[0].ToUpperInvariant();
                if (verb == "CLUSTER" && ++clusterNodes > 1)
                {
                    Interlocked.Increment(ref _stalledConnections);
                    await Task.Delay(Timeout.Infinite, _stopping.Token); // silent, the connection open
                }

                await stream.WriteAsync(Encoding.Latin1.GetBytes(Reply(verb, command)), _stopping.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
            // Stopping, or the client went away.
        }
    }

    /// <summary>What a cluster master answers; CLUSTER is only ever CLUSTER NODES from this client.</summary>
    private string Reply(string verb, string[] command) => verb switch
    {
        "PING" => "+PONG\r\n",
        "ECHO" => Bulk(command[1]),
        "INFO" => Bulk("# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n# Replication\r\nrole:master\r\n"),
        "CONFIG" => "*0\r\n",
        "CLUSTER" => Bulk(string.Create(CultureInfo.InvariantCulture, $"{new string('a', 40)} 127.0.0.1:{Port}@{Port + 10000} myself,master - 0 0 1 connected 0-16383\n")),
        "SUBSCRIBE" => "*3\r\n" + Bulk("subscribe") + Bulk(command[1]) + ":1\r\n",
        "GET" => "$-1\r\n",
        _ => "+OK\r\n",
    };

    private static string Bulk(string value) => string.Create(CultureInfo.InvariantCulture, $"${value.Length}\r\n{value}\r\n");

    /// <summary>One command, an array of bulk strings; null when the client closed the connection.</summary>
    private static async Task<string[]?> ReadCommandAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        var header = await reader.ReadLineAsync(cancellationToken);
        if (header is null)
        {
            return null;
        }

        var command = new string[int.Parse(header.AsSpan(1), CultureInfo.InvariantCulture)];
        for (var i = 0; i < command.Length; i++)
        {
            var length = int.Parse((await reader.ReadLineAsync(cancellationToken))!.AsSpan(1), CultureInfo.InvariantCulture);
            var value = new char[length + 2]; // with its CRLF
            await reader.ReadBlockAsync(value, cancellationToken);
            command[i] = new string(value, 0, length);
        }

        return command;
    }
}
