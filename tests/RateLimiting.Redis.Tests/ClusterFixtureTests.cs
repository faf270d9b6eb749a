using System.Globalization;
using System.Net;
using RateLimiting.Redis.Tests.Infrastructure;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests;

/// <summary>The shared cluster is what the other Redis tests assume: healthy, 3 + 3, scripts run on every master.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ClusterFixtureTests
{
    private const string IncrementScript = "return redis.call('INCR', KEYS[1])";
    private static readonly TimeSpan RedisDeadline = TimeSpan.FromSeconds(10);

    private readonly RedisClusterFixture _cluster;

    public ClusterFixtureTests(RedisClusterFixture cluster)
    {
        _cluster = cluster;
    }

    [Fact]
    public async Task ClusterInfo_EveryNode_ReportsStateOkAndAllSlotsCovered()
    {
        foreach (var port in _cluster.Ports)
        {
            // Act
            var info = ParseInfo(await _cluster.RedisCliAsync(port, "CLUSTER", "INFO"));

            // Assert
            Assert.Equal("ok", info["cluster_state"]);
            Assert.Equal("16384", info["cluster_slots_assigned"]);
            Assert.Equal("16384", info["cluster_slots_ok"]);
            Assert.Equal("6", info["cluster_known_nodes"]);
        }
    }

    [Fact]
    public async Task ClusterNodes_FreshCluster_ThreeMastersEachWithOneReplicaCoverEverySlotOnce()
    {
        // Act
        var nodes = ClusterNodeInfo.ParseAll(await _cluster.RedisCliAsync(_cluster.Ports[0], "CLUSTER", "NODES"));

        // Assert
        var masters = nodes.Where(node => node.IsMaster).ToArray();
        var replicas = nodes.Where(node => node.IsReplica).ToArray();
        Assert.Equal(3, masters.Length);
        Assert.Equal(3, replicas.Length);
        Assert.All(masters, master => Assert.Single(replicas, replica => replica.MasterId == master.Id));
        Assert.Equal(HashSlot.Count, masters.Sum(master => master.SlotCount));
        Assert.All(Enumerable.Range(0, HashSlot.Count), slot => Assert.Single(masters, master => master.ServesSlot(slot)));
        Assert.Equal(masters.Select(master => master.Port).Order(), _cluster.MasterPorts());
    }

    [Fact]
    public void Multiplexer_ClusterConfiguration_MapsEverySlotToAMaster()
    {
        // Arrange
        var server = _cluster.Multiplexer.GetServer(_cluster.ConfigurationString.Split(',')[0]);

        // Act
        var configuration = server.ClusterConfiguration;

        // Assert
        Assert.NotNull(configuration);
        var masterPorts = _cluster.MasterPorts();
        for (var slot = 0; slot < HashSlot.Count; slot++)
        {
            var node = configuration.GetBySlot(slot);
            Assert.NotNull(node);
            Assert.False(node.IsReplica);
            Assert.Contains(((IPEndPoint)node.EndPoint!).Port, masterPorts);
        }
    }

    [Theory]
    [InlineData("user:42")]
    [InlineData("{user:42}:window")]
    [InlineData("a{b}c{d}")]
    [InlineData("{}tagless")]
    [InlineData("open{only")]
    [InlineData("ünïcødé{ключ}")]
    public async Task HashSlotOf_Key_MatchesClusterKeySlot(string key)
    {
        // Act
        var expected = await _cluster.RedisCliAsync(_cluster.Ports[0], "CLUSTER", "KEYSLOT", key);

        // Assert
        Assert.Equal(int.Parse(expected, CultureInfo.InvariantCulture), HashSlot.Of(key));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ScriptEvaluate_HashTaggedKeyOfEachMaster_RunsOnTheMasterOwningTheSlot(int masterIndex)
    {
        // Arrange
        var nodes = ClusterNodeInfo.ParseAll(await _cluster.RedisCliAsync(_cluster.Ports[0], "CLUSTER", "NODES"));
        var master = nodes.Where(node => node.IsMaster).OrderBy(node => node.Port).ElementAt(masterIndex);
        var tag = Enumerable.Range(0, 10_000).Select(i => "tag" + i.ToString(CultureInfo.InvariantCulture))
            .First(candidate => master.ServesSlot(HashSlot.Of(candidate)));
        var key = $"{{{tag}}}:k:{Guid.NewGuid():N}";
        var slot = await _cluster.RedisCliAsync(master.Port, "CLUSTER", "KEYSLOT", key);
        Assert.Equal(HashSlot.Of(key), int.Parse(slot, CultureInfo.InvariantCulture));
        var database = _cluster.Multiplexer.GetDatabase();

        // Act
        var first = await database.ScriptEvaluateAsync(IncrementScript, [key]).WaitAsync(RedisDeadline);
        var second = await database.ScriptEvaluateAsync(IncrementScript, [key]).WaitAsync(RedisDeadline);

        // Assert
        Assert.Equal(1L, (long)first);
        Assert.Equal(2L, (long)second);
        var endpoint = await database.IdentifyEndpointAsync(key).WaitAsync(RedisDeadline);
        Assert.Equal(master.Port, Assert.IsType<IPEndPoint>(endpoint).Port);

        // Read straight from that master, without redirects: the value lives there.
        Assert.Equal("2", (await _cluster.RedisCliAsync(master.Port, "GET", key)).Trim());
    }

    private static Dictionary<string, string> ParseInfo(string info) =>
        info.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
}
