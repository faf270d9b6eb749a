using System.Net;
using NodaTime;
using RateLimiting.Redis.Connection;
using StackExchange.Redis;

namespace RateLimiting.Redis.Resilience;

/// <summary>
/// Which master's breaker guards each slot, as one multiplexer sees the cluster: an array lookup
/// per decision, an immutable snapshot that <see cref="BreakerMap"/> replaces when it expires
/// or the topology changes. A stale entry costs little: the probe of the breaker it names is
/// routed by the client's current view, and so closes that breaker once the slots are served
/// elsewhere.
/// </summary>
/// <remarks>
/// A slot holds the breaker's number (1-based, 0 for none) rather than the breaker: 32 KB instead
/// of a 128 KB array of references, so that the map rebuilt every second under traffic stays off
/// the large-object heap, whose collections are full ones.
/// </remarks>
internal sealed class SlotOwners(IConnectionMultiplexer multiplexer, Instant expiresAt, ushort[] bySlot, MasterBreaker[] breakers, MasterBreaker? standalone)
{
    private readonly ushort[] _bySlot = bySlot;
    private readonly MasterBreaker[] _breakers = breakers;
    private readonly MasterBreaker? _standalone = standalone;

    public IConnectionMultiplexer Multiplexer { get; } = multiplexer;

    /// <summary>Gets the instant after which the map is rebuilt.</summary>
    public Instant ExpiresAt { get; } = expiresAt;

    /// <summary>The breaker of the master that owns <paramref name="slot"/> (-1 on a standalone server); null when none is known.</summary>
    public MasterBreaker? For(int slot) => slot < 0 ? _standalone : _bySlot[slot] is var number and > 0 ? _breakers[number - 1] : null;

    /// <summary>A slot <paramref name="breaker"/> guards, or null when it guards none any more.</summary>
    public int? SlotOf(MasterBreaker breaker)
    {
        if (ReferenceEquals(breaker, _standalone))
        {
            return -1;
        }

        var index = Array.IndexOf(_breakers, breaker);
        var slot = index < 0 ? -1 : Array.IndexOf(_bySlot, (ushort)(index + 1));
        return slot >= 0 ? slot : null;
    }

    /// <summary>
    /// Builds the map from every node's view of the cluster: per slot, a master the client is
    /// connected to wins over one it is not, so that after a failover the promoted replica owns its
    /// slots as soon as one view shows it, even while older views still name the dead master. The
    /// slots the client has seen MOVED since (<paramref name="moved"/>, which no view shows: the
    /// client only updates its routing) go where it was told. A slot no view mentions keeps its
    /// owner in <paramref name="previous"/>: a fresh multiplexer may not have asked every node yet,
    /// and a breaker must not lose its slots (and open again from nothing) for want of a view.
    /// </summary>
    public static SlotOwners Build(IConnectionMultiplexer multiplexer, Func<EndPoint, MasterBreaker> breakerOf, IEnumerable<KeyValuePair<int, EndPoint>> moved, SlotOwners? previous, Instant expiresAt)
    {
        var bySlot = previous is null ? new ushort[SlotCoverage.ClusterSlots] : (ushort[])previous._bySlot.Clone();
        var breakers = previous is null ? new List<MasterBreaker>() : [.. previous._breakers];
        ushort NumberOf(MasterBreaker breaker)
        {
            var index = breakers.IndexOf(breaker);
            if (index < 0)
            {
                breakers.Add(breaker);
                index = breakers.Count - 1;
            }

            return (ushort)(index + 1);
        }

        var views = SlotCoverage.ClusterConfigurationsOf(multiplexer).ToList();
        if (views.Count > 0)
        {
            var ownerConnected = new bool[SlotCoverage.ClusterSlots];
            var seen = new bool[SlotCoverage.ClusterSlots];
            var connected = new Dictionary<string, bool>(StringComparer.Ordinal);
            foreach (var configuration in views)
            {
                foreach (var master in configuration.Nodes.Where(node => !node.IsReplica && node.EndPoint is not null))
                {
                    var name = master.EndPoint!.ToString()!;
                    if (!connected.TryGetValue(name, out var isConnected))
                    {
                        connected[name] = isConnected = IsConnected(multiplexer, master.EndPoint);
                    }

                    var breaker = NumberOf(breakerOf(master.EndPoint));
                    foreach (var range in master.Slots)
                    {
                        for (var slot = range.From; slot <= range.To; slot++)
                        {
                            if (!seen[slot] || (isConnected && !ownerConnected[slot]))
                            {
                                bySlot[slot] = breaker;
                                ownerConnected[slot] = isConnected;
                                seen[slot] = true;
                            }
                        }
                    }
                }
            }

            foreach (var (slot, owner) in moved)
            {
                bySlot[slot] = NumberOf(breakerOf(owner));
            }

            return new SlotOwners(multiplexer, expiresAt, bySlot, [.. breakers], standalone: null);
        }

        var server = multiplexer.GetServers().FirstOrDefault(server => server.IsConnected && !server.IsReplica && server.ServerType != ServerType.Cluster);
        return new SlotOwners(multiplexer, expiresAt, bySlot, [.. breakers], server is null ? previous?._standalone : breakerOf(server.EndPoint));
    }

    /// <summary>The same owners for <paramref name="multiplexer"/>, until <paramref name="expiresAt"/>: when its views cannot be read yet.</summary>
    public SlotOwners For(IConnectionMultiplexer multiplexer, Instant expiresAt) => new(multiplexer, expiresAt, _bySlot, _breakers, _standalone);

    private static bool IsConnected(IConnectionMultiplexer multiplexer, EndPoint endpoint)
    {
        try
        {
            return multiplexer.GetServer(endpoint).IsConnected;
        }
        catch (Exception ex) when (ex is RedisException or ArgumentException or NotSupportedException)
        {
            return false; // a node the multiplexer does not track
        }
    }
}
