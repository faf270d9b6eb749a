using System.Globalization;
using System.Net;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// How many of the cluster's slots a multiplexer can really serve: one read-only keyed call per
/// master it knows, routed as a decision would be and never redirected, so a connection that
/// reaches the wrong node (MOVED), a dead node or a black hole counts for nothing. A reconnect
/// compares the fresh multiplexer with the one it would replace before swapping.
/// </summary>
internal static class SlotCoverage
{
    public const int ClusterSlots = 16384;
    private const int MaxKeyTries = 1_000_000;
    private const CommandFlags ProbeFlags = CommandFlags.DemandMaster | CommandFlags.NoRedirect;

    /// <summary>The slots whose master answered a probe within <paramref name="timeout"/>; a non-clustered server counts as all of them.</summary>
    public static async Task<int> MeasureAsync(IConnectionMultiplexer multiplexer, TimeSpan timeout)
    {
        try
        {
            return await MeasureCoreAsync(multiplexer, timeout).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return 0; // shutting down
        }
    }

    private static async Task<int> MeasureCoreAsync(IConnectionMultiplexer multiplexer, TimeSpan timeout)
    {
        var database = multiplexer.GetDatabase();
        var masters = MastersOf(multiplexer);
        if (masters is null)
        {
            return await AnswersAsync(database.KeyExistsAsync("rl-probe", ProbeFlags), timeout).ConfigureAwait(false) ? ClusterSlots : 0;
        }

        var probes = masters.Select(master => (Slots: master.Slots.Sum(range => range.To - range.From + 1), Answered: AnswersAsync(database.KeyExistsAsync(KeyIn(multiplexer, master.Slots[0]), ProbeFlags), timeout))).ToArray();
        await Task.WhenAll(probes.Select(probe => probe.Answered)).ConfigureAwait(false);
        return probes.Where(probe => probe.Answered.Result).Sum(probe => probe.Slots);
    }

    /// <summary>Every endpoint the multiplexer knows: configured, discovered, and the nodes of its last cluster configuration.</summary>
    public static IEnumerable<EndPoint> KnownEndPoints(IConnectionMultiplexer multiplexer)
    {
        var known = multiplexer.GetEndPoints();
        var nodes = ClusterConfigurationOf(multiplexer)?.Nodes.Select(node => node.EndPoint).OfType<EndPoint>() ?? [];
        return known.Concat(nodes);
    }

    private static List<ClusterNode>? MastersOf(IConnectionMultiplexer multiplexer)
        => ClusterConfigurationOf(multiplexer)?.Nodes.Where(node => !node.IsReplica && node.Slots.Count > 0).ToList();

    /// <summary>The freshest cluster configuration the multiplexer holds: a connected node's, else the last one seen.</summary>
    internal static ClusterConfiguration? ClusterConfigurationOf(IConnectionMultiplexer multiplexer)
        => ClusterConfigurationsOf(multiplexer).FirstOrDefault();

    /// <summary>
    /// Every node's last cluster configuration, those of connected nodes first. The client updates
    /// only the view of the node it asked, so after a failover some views are older than others.
    /// </summary>
    internal static IEnumerable<ClusterConfiguration> ClusterConfigurationsOf(IConnectionMultiplexer multiplexer)
    {
        var configurations = new List<(ClusterConfiguration Configuration, bool FromConnected)>();
        foreach (var endpoint in multiplexer.GetEndPoints())
        {
            try
            {
                var server = multiplexer.GetServer(endpoint);
                if (server.ServerType == ServerType.Cluster && server.ClusterConfiguration is { } configuration)
                {
                    configurations.Add((configuration, server.IsConnected));
                }
            }
            catch (Exception ex) when (ex is RedisException or ArgumentException or NotSupportedException)
            {
                // A node the multiplexer no longer tracks.
            }
        }

        return configurations.OrderByDescending(view => view.FromConnected).Select(view => view.Configuration);
    }

    /// <summary>A key in <paramref name="range"/>: a few tries for a wide range, some ten thousand for a single slot.</summary>
    internal static RedisKey KeyIn(IConnectionMultiplexer multiplexer, SlotRange range)
    {
        RedisKey key = default;
        for (var i = 0; i < MaxKeyTries; i++)
        {
            key = "rl-probe:{" + i.ToString(CultureInfo.InvariantCulture) + "}";
            var slot = multiplexer.HashSlot(key);
            if (slot >= range.From && slot <= range.To)
            {
                break;
            }
        }

        return key; // not found: a key elsewhere, whose probe a MOVED fails
    }

    private static async Task<bool> AnswersAsync(Task<bool> call, TimeSpan timeout)
    {
        try
        {
            await call.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            AbandonedCall.Observe(call);
            return false;
        }
    }
}
