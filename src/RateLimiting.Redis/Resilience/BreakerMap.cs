using System.Collections.Concurrent;
using System.Net;
using NodaTime;
using StackExchange.Redis;

namespace RateLimiting.Redis.Resilience;

/// <summary>
/// Which breaker guards a key: the <see cref="SlotOwners"/> of the multiplexer in use, rebuilt
/// every second and whenever the topology may have changed, carrying over what the last map knew.
/// Creates one <see cref="MasterBreaker"/> per master the first time a view names it.
/// </summary>
internal sealed class BreakerMap
{
    private static readonly Duration MapLifetime = Duration.FromSeconds(1);
    private static readonly Duration RetryAfterFailedRefresh = Duration.FromMilliseconds(100);

    private readonly IClock _clock;
    private readonly Action _topologyChanged;
    private readonly ConcurrentDictionary<string, MasterBreaker> _masters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, EndPoint> _moved = new();
    private readonly Func<string, EndPoint, MasterBreaker> _newBreaker;
    private SlotOwners? _owners;
    private SlotOwners? _last; // survives the invalidations of _owners, for the next map to build on
    private IConnectionMultiplexer? _watched;
    private int _refreshing;

    /// <param name="options">The breakers' options.</param>
    /// <param name="clock">Times the map's lifetime and the breakers.</param>
    /// <param name="topologyChanged">Called when the watched multiplexer reports a topology change, a restored connection or a moved slot (after the map was invalidated).</param>
    public BreakerMap(RedisResilienceOptions options, IClock clock, Action topologyChanged)
    {
        _clock = clock;
        _topologyChanged = topologyChanged;
        _newBreaker = (name, endpoint) => new MasterBreaker(name, endpoint, options, clock);
    }

    public IEnumerable<MasterBreaker> Masters => _masters.Values;

    /// <summary>Gets the current map, or rebuilds it for the multiplexer last seen; null while none is known.</summary>
    public SlotOwners? Current => Volatile.Read(ref _owners) ?? (Volatile.Read(ref _watched) is { } multiplexer ? Refresh(multiplexer, current: null) : null);

    /// <summary>The breaker guarding <paramref name="key"/> on <paramref name="multiplexer"/>; null while no map is known.</summary>
    public MasterBreaker? For(IConnectionMultiplexer multiplexer, in RedisKey key)
    {
        var owners = Volatile.Read(ref _owners);
        if (owners is null || !ReferenceEquals(owners.Multiplexer, multiplexer) || _clock.GetCurrentInstant() >= owners.ExpiresAt)
        {
            owners = Refresh(multiplexer, owners);
        }

        return owners?.For(multiplexer.HashSlot(key));
    }

    /// <summary>The next lookup reads the views again.</summary>
    public void Invalidate() => Volatile.Write(ref _owners, null);

    /// <summary>
    /// Rebuilds the map for <paramref name="multiplexer"/>, carrying over what <paramref name="current"/>
    /// (or the last map) knows; while another caller rebuilds it, or the views cannot be read, the
    /// last map goes on serving, so that no decision falls back to the breaker of "no connection".
    /// </summary>
    private SlotOwners? Refresh(IConnectionMultiplexer multiplexer, SlotOwners? current)
    {
        var previous = current ?? _last;
        if (Interlocked.CompareExchange(ref _refreshing, 1, 0) != 0)
        {
            return previous;
        }

        var now = _clock.GetCurrentInstant();
        try
        {
            Watch(multiplexer);
            var built = SlotOwners.Build(multiplexer, BreakerOf, _moved, previous, now + MapLifetime);
            Publish(built);
            return built;
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or ArgumentException or NotSupportedException)
        {
            // A multiplexer being closed, or not yet able to say: the last map, retried shortly.
            var reused = previous?.For(multiplexer, now + RetryAfterFailedRefresh);
            Publish(reused);
            return reused;
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private MasterBreaker BreakerOf(EndPoint endpoint) => _masters.GetOrAdd(endpoint.ToString()!, _newBreaker, endpoint);

    private void Publish(SlotOwners? owners)
    {
        Volatile.Write(ref _owners, owners);
        if (owners is not null)
        {
            Volatile.Write(ref _last, owners);
        }
    }

    /// <summary>Follows the topology changes <paramref name="multiplexer"/> reports; once per multiplexer, whose own views start afresh.</summary>
    private void Watch(IConnectionMultiplexer multiplexer)
    {
        if (ReferenceEquals(Interlocked.Exchange(ref _watched, multiplexer), multiplexer))
        {
            return;
        }

        _moved.Clear();
        multiplexer.ConfigurationChanged += (_, _) => Changed();
        multiplexer.ConnectionRestored += (_, _) => Changed();
        multiplexer.HashSlotMoved += (_, moved) =>
        {
            _moved[moved.HashSlot] = moved.NewEndPoint;

            Changed();
        };
    }

    private void Changed()
    {
        Invalidate();
        _topologyChanged();
    }
}
