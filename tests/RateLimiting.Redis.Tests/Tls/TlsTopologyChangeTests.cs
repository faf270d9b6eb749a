using System.Globalization;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>
/// Resharding and failover on the TLS cluster: the client follows MOVED replies and topology that
/// name raw IPs, over TLS, with every certificate checked against sslHost (the certificate has no
/// IP SAN, so a check against the IP would fail). Each test puts the cluster back as it found it.
/// </summary>
[Collection(TlsRedisClusterCollection.Name)]
public sealed class TlsTopologyChangeTests
{
    private const string Policy = "tls-topology";
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(60);

    private readonly TlsRedisClusterFixture _cluster;

    public TlsTopologyChangeTests(TlsRedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task DecideAsync_SlotMovedToAnotherMaster_FollowsMovedOverTlsAndKeepsTheWindow()
    {
        // Arrange: a store that knows one master by configuration and the rest from the topology.
        var masters = await _cluster.MastersAsync();
        var (source, target) = (masters[0], masters[1]);
        var options = _cluster.StoreOptions();
        options.Configuration = options.Configuration!.Replace(_cluster.Endpoints, $"127.0.0.1:{source.Port}", StringComparison.Ordinal);
        var keys = new RedisKeyLayout(options.KeyPrefix);
        var partition = TlsClusterDecisionTests.PartitionOn(keys, Policy, source, "moved");
        var key = keys.For(Policy, partition).Entries;
        var slot = HashSlot.Of(key).ToString(CultureInfo.InvariantCulture);
        var request = new RateLimitRequest(Policy, partition, permitLimit: 3, TimeSpan.FromMinutes(10), cost: 1);
        await using var store = new RedisRateLimitStore(options);
        Assert.Equal(2, (await TlsRedisClusterFixture.FirstDecisionAsync(store, request)).Remaining);

        try
        {
            // Act: the slot, with the window's keys, moves to another master.
            await MoveSlotAsync(slot, source, target, masters);
            var afterMove = await store.DecideAsync(request, CancellationToken.None);

            // Assert: decided on the new owner (the window came along), reached through the MOVED.
            Assert.True(afterMove.IsAllowed);
            Assert.Equal(1, afterMove.Remaining);
            Assert.Equal("1", (await _cluster.RedisCliAsync(target.Port, "EXISTS", key)).Trim());
        }
        finally
        {
            await MoveSlotAsync(slot, target, source, masters);
        }
    }

    [Fact]
    public async Task DecideAsync_MasterKilledAndReplicaPromoted_ResumesOverTls()
    {
        // Arrange
        var nodes = await _cluster.NodesAsync();
        var master = nodes.Where(node => node.IsMaster && !node.IsFailed).OrderBy(node => node.Port).First();
        var replica = nodes.Single(node => node.MasterId == master.Id);
        var options = _cluster.StoreOptions();
        var keys = new RedisKeyLayout(options.KeyPrefix);
        var request = new RateLimitRequest(Policy, TlsClusterDecisionTests.PartitionOn(keys, Policy, master, "failover"), 1000, TimeSpan.FromMinutes(10), 1);
        await using var store = new RedisRateLimitStore(options);
        Assert.True((await TlsRedisClusterFixture.FirstDecisionAsync(store, request)).IsAllowed);
        await _cluster.WaitUntilReplicaSyncedAsync(replica.Port, Recovery);

        try
        {
            // Act
            await _cluster.KillNodeAsync(master.Port);
            var resumed = await Poll.UntilAsync(() => TryDecideAsync(store, request), allowed => allowed, Recovery);

            // Assert
            Assert.True(resumed);
            var promoted = ClusterNodeInfo.ParseAll(await _cluster.RedisCliAsync(replica.Port, "CLUSTER", "NODES")).Single(node => node.Id == replica.Id);
            Assert.True(promoted.IsMaster);
        }
        finally
        {
            // The killed master comes back as a replica of the promoted one: 3 + 3 again.
            await _cluster.RestartNodeAsync(master.Port);
            await _cluster.WaitUntilHealthyAsync(Recovery);
        }
    }

    private static async Task<bool> TryDecideAsync(RedisRateLimitStore store, RateLimitRequest request)
    {
        try
        {
            return (await store.DecideAsync(request, CancellationToken.None)).IsAllowed;
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            return false; // still failing over
        }
    }

    /// <summary>Moves <paramref name="slot"/> and its keys from one master to another, as <c>redis-cli --cluster reshard</c> does, over TLS.</summary>
    private async Task MoveSlotAsync(string slot, ClusterNodeInfo from, ClusterNodeInfo to, IEnumerable<ClusterNodeInfo> masters)
    {
        await _cluster.RedisCliAsync(to.Port, "CLUSTER", "SETSLOT", slot, "IMPORTING", from.Id);
        await _cluster.RedisCliAsync(from.Port, "CLUSTER", "SETSLOT", slot, "MIGRATING", to.Id);
        var keys = (await _cluster.RedisCliAsync(from.Port, "CLUSTER", "GETKEYSINSLOT", slot, "1000"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (keys.Length > 0)
        {
            // With tls-cluster, MIGRATE connects to the target over TLS; AUTH for its requirepass.
            await _cluster.RedisCliAsync(from.Port, ["MIGRATE", "127.0.0.1", to.Port.ToString(CultureInfo.InvariantCulture), string.Empty, "0", "10000", "AUTH", _cluster.Password, "KEYS", .. keys]);
        }

        foreach (var master in masters.OrderBy(master => master.Port == to.Port ? 0 : master.Port == from.Port ? 1 : 2))
        {
            await _cluster.RedisCliAsync(master.Port, "CLUSTER", "SETSLOT", slot, "NODE", to.Id);
        }
    }
}
