using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>The production set-up: a TLS-only, password-protected cluster reached by IP, its certificate checked against sslHost.</summary>
[Collection(TlsRedisClusterCollection.Name)]
public sealed class TlsClusterDecisionTests
{
    private const string Policy = "tls-shards";

    private readonly TlsRedisClusterFixture _cluster;

    public TlsClusterDecisionTests(TlsRedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public void Script_TlsAndPassword_PrintsTheConfigurationAUserWrites()
    {
        Assert.Equal(
            $"{_cluster.Endpoints},ssl=true,sslHost=redis.test,password={_cluster.Password},abortConnect=false",
            _cluster.ConfigurationString);
    }

    [Fact]
    public void Script_Tls_CertificateNamesTheHostButNoIpAddress()
    {
        using var certificate = X509Certificate2.CreateFromPemFile(
            Path.Combine(Path.GetDirectoryName(_cluster.CaCertificatePath)!, "server.crt"),
            Path.Combine(Path.GetDirectoryName(_cluster.CaCertificatePath)!, "server.key"));
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();

        Assert.Equal([TlsRedisClusterFixture.TlsHost], names.EnumerateDnsNames());
        Assert.Empty(names.EnumerateIPAddresses());
    }

    [Fact]
    public async Task DecideAsync_PrintedConfigurationPlusTrustedCa_Decides()
    {
        var options = _cluster.StoreOptions();
        options.Configuration = _cluster.ConfigurationString;
        await using var store = new RedisRateLimitStore(options);

        var decision = await TlsRedisClusterFixture.FirstDecisionAsync(store, new RateLimitRequest(Policy, "printed-" + Guid.NewGuid().ToString("N"), 1, TimeSpan.FromMinutes(1), 1));

        Assert.True(decision.IsAllowed);
    }

    [Fact]
    public async Task DecideAsync_PartitionOnEachMaster_DecidesExactlyOverTls()
    {
        // Arrange
        var options = _cluster.StoreOptions();
        var keys = new RedisKeyLayout(options.KeyPrefix);
        await using var store = new RedisRateLimitStore(options);
        var masters = await _cluster.MastersAsync();
        Assert.Equal(3, masters.Count);
        await TlsRedisClusterFixture.FirstDecisionAsync(store, new RateLimitRequest(Policy, "connect", 1, TimeSpan.FromSeconds(1), cost: 0));

        foreach (var master in masters)
        {
            var partition = PartitionOn(keys, Policy, master, "shard-" + master.Port.ToString(CultureInfo.InvariantCulture));
            var request = new RateLimitRequest(Policy, partition, permitLimit: 2, TimeSpan.FromMinutes(1), cost: 1);

            // Act
            var decisions = new List<bool>();
            for (var i = 0; i < 3; i++)
            {
                decisions.Add((await store.DecideAsync(request, CancellationToken.None)).IsAllowed);
            }

            // Assert: exact, and the window lives on that master (-e makes a MOVED reply fail).
            Assert.Equal([true, true, false], decisions);
            var exists = await _cluster.RedisCliAsync(master.Port, "EXISTS", keys.For(Policy, partition).Entries);
            Assert.Equal("1", exists.Trim());
        }
    }

    /// <summary>A partition of <paramref name="policy"/> whose window keys <paramref name="master"/> serves.</summary>
    internal static string PartitionOn(RedisKeyLayout keys, string policy, ClusterNodeInfo master, string tag)
    {
        for (var i = 0; i < 1_000_000; i++)
        {
            var partition = $"{tag}-{i}";
            if (master.ServesSlot(HashSlot.Of(keys.For(policy, partition).Entries)))
            {
                return partition;
            }
        }

        throw new InvalidOperationException($"No partition on the master at port {master.Port}.");
    }
}
