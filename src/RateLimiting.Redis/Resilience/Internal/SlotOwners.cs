using RateLimiting.Redis.Internal.Connection;
using StackExchange.Redis;

namespace RateLimiting.Redis.Internal.Resilience;

/// <summary>
/// Which master's breaker guards each slot, as one multiplexer last saw the cluster: an array
/// lookup per decision. Rebuilt from the multiplexer's cluster configuration when it expires; a
/// stale entry costs little, because the probe of the breaker it names is routed by the client's
/// current view and so closes that breaker once the slots are served elsewhere.
/// </summary>
internal sealed class SlotOwners
{
    private readonly MasterBreaker?[] _bySlot;
    private readonly MasterBreaker? _standalone;

    private SlotOwners(IConnectionMultiplexer multiplexer, long expiresAt, MasterBreaker?[] bySlot, MasterBreaker? standalone)
    {
        Multiplexer = multiplexer;
        ExpiresAt = expiresAt;
        _bySlot = bySlot;
        _standalone = standalone;
    }

    public IConnectionMultiplexer Multiplexer { get; }

    /// <summary>Gets the timestamp after which the map is rebuilt.</summary>
    public long ExpiresAt { get; }

    /// <summary>The breaker of the master that owns <paramref name="slot"/> (-1 on a standalone server); null when none is known.</summary>
    public MasterBreaker? For(int slot) => slot < 0 ? _standalone : _bySlot[slot];

    /// <summary>A slot <paramref name="breaker"/> guards, or null when it guards none any more.</summary>
    public int? SlotOf(MasterBreaker breaker)
    {
        if (ReferenceEquals(breaker, _standalone))
        {
            return -1;
        }

        var slot = Array.IndexOf(_bySlot, breaker);
        return slot >= 0 ? slot : null;
    }

    public static SlotOwners Build(IConnectionMultiplexer multiplexer, Func<string, MasterBreaker> breakerOf, long expiresAt)
    {
        var bySlot = new MasterBreaker?[SlotCoverage.ClusterSlots];
        if (SlotCoverage.ClusterConfigurationOf(multiplexer) is { } configuration)
        {
            foreach (var master in configuration.Nodes.Where(node => !node.IsReplica && node.EndPoint is not null))
            {
                var breaker = breakerOf(master.EndPoint!.ToString()!);
                foreach (var range in master.Slots)
                {
                    Array.Fill(bySlot, breaker, range.From, range.To - range.From + 1);
                }
            }

            return new SlotOwners(multiplexer, expiresAt, bySlot, standalone: null);
        }

        var server = multiplexer.GetServers().FirstOrDefault(server => server.IsConnected && !server.IsReplica && server.ServerType != ServerType.Cluster);
        return new SlotOwners(multiplexer, expiresAt, bySlot, server is null ? null : breakerOf(server.EndPoint.ToString()!));
    }
}
