using System.Globalization;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// Cluster-enabled redis-server nodes on free ports of 127.0.0.1, in no cluster until
/// <see cref="MeetAsync"/>: the new masters a managed service adds when it scales or patches. Tests
/// reach them directly (no proxy): they announce their real ports. Disposing stops them, also after
/// a failure; a node that cannot start fails the test, it never skips it.
/// </summary>
internal sealed class ExtraClusterNodes : IAsyncDisposable
{
    private readonly List<RedisServerProcess> _servers = [];
    private readonly List<AdminNode> _nodes = [];

    private ExtraClusterNodes()
    {
    }

    /// <summary>The nodes, in start order.</summary>
    public IReadOnlyList<AdminNode> Nodes => _nodes;

    public static async Task<ExtraClusterNodes> StartAsync(int count)
    {
        var extra = new ExtraClusterNodes();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var server = await RedisServerProcess.StartClusterNodeAsync();
                extra._servers.Add(server);
                var node = new AdminNode(string.Empty, server.Port);
                extra._nodes.Add(node with { Id = (string)(await node.ExecuteAsync("CLUSTER", "MYID"))! });
            }

            return extra;
        }
        catch
        {
            await extra.DisposeAsync();
            throw;
        }
    }

    /// <summary>Asks <paramref name="member"/>, a node of the cluster, to meet every one of these nodes; gossip tells the rest of the cluster.</summary>
    public async Task MeetAsync(AdminNode member)
    {
        ArgumentNullException.ThrowIfNull(member);
        foreach (var server in _servers)
        {
            await member.ExecuteAsync(
                "CLUSTER", "MEET", "127.0.0.1", server.Port.ToString(CultureInfo.InvariantCulture), server.ClusterBusPort!.Value.ToString(CultureInfo.InvariantCulture));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _servers.Clear();
        _nodes.Clear();
    }
}
