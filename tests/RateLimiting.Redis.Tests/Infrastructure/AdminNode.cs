using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// A cluster node as a test administers it: its id, and the port it really listens on, past any
/// proxy (<see cref="ProxiedRedisCluster.AdminNodeOf"/>). Plaintext nodes only.
/// </summary>
/// <param name="Id">The node id (CLUSTER MYID).</param>
/// <param name="Port">The node's own client port on 127.0.0.1.</param>
internal sealed record AdminNode(string Id, int Port)
{
    /// <summary>Sends one command straight to the node; an error reply throws.</summary>
    public async Task<object?> ExecuteAsync(params string[] args)
    {
        await using var connection = await RespConnection.ConnectAsync(Port);
        return await connection.ExecuteAsync(args);
    }

    /// <summary>CLUSTER NODES as this node sees it.</summary>
    public async Task<IReadOnlyList<ClusterNodeInfo>> NodesAsync()
        => ClusterNodeInfo.ParseAll((string)(await ExecuteAsync("CLUSTER", "NODES"))!);

    /// <summary>CLUSTER INFO as this node sees it, e.g. <c>cluster_state</c> → <c>ok</c>.</summary>
    public async Task<IReadOnlyDictionary<string, string>> ClusterInfoAsync()
        => ((string)(await ExecuteAsync("CLUSTER", "INFO"))!)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
}
