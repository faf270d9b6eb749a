using NodaTime;
using RateLimiting.Redis.Resilience;

namespace RateLimiting.Redis.Store;

/// <summary>Options of the Redis Cluster store, bound from the <c>RateLimiting:Redis</c> configuration section.</summary>
public sealed class RedisStoreOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string, for example
    /// <c>redis.example:6380,ssl=true,sslHost=redis.example,password=…,abortConnect=false</c>.
    /// </summary>
    /// <value>No default: required unless <see cref="ConnectionFactory"/> is set.</value>
    public string? Configuration { get; set; }

    /// <summary>
    /// Gets or sets the path of a PEM file with the certificate(s) of the private certificate
    /// authority that issued the Redis servers' certificates, for <c>ssl=true</c> clusters whose
    /// CA the machine does not trust. When set, a server certificate must chain to one of these
    /// certificates (the system store is not consulted); either way its name must match
    /// <c>sslHost</c> (or the endpoint's host when <c>sslHost</c> is absent). The file is read again
    /// on every (re)connect, so a rotated CA applies without a restart.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: the system's trusted roots decide. When set, the
    /// file must exist and hold at least one PEM certificate, and <see cref="Configuration"/> must
    /// say <c>ssl=true</c>.
    /// </value>
    public string? TrustedCaCertificatePath { get; set; }

    /// <summary>Gets or sets the prefix of every key the store writes.</summary>
    /// <value>The default value is <c>rl</c>. 1 to 64 characters, no braces.</value>
    public string KeyPrefix { get; set; } = "rl";

    /// <summary>
    /// Gets or sets the deadline of one Redis call, connecting included. A decision that misses it is
    /// answered by the policy's failure mode.
    /// </summary>
    /// <value>The default value is 250 milliseconds. Between 1 millisecond and 1 minute.</value>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets or sets the clock that timestamps requests. <see langword="null"/> uses the Redis server's
    /// own clock inside the script, so application instances never need to agree on the time; set a
    /// clock only for deterministic tests.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (Redis server time).</value>
    public IClock? Clock { get; set; }

    /// <summary>
    /// Gets or sets a factory for the multiplexer, used instead of <see cref="Configuration"/> when set,
    /// for an application that builds its own (for example from Aspire's settings) or shares the one
    /// it registered as <see cref="StackExchange.Redis.IConnectionMultiplexer"/>. The store calls it
    /// again to replace a stuck multiplexer, and never closes or disposes what it returns: that
    /// belongs to the application. A factory that returns the same instance every time therefore
    /// opts out of replacement. The token is cancelled after three connect timeouts (15 seconds by
    /// default); the store then stops waiting and calls the factory again on a later decision.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<CancellationToken, Task<StackExchange.Redis.IConnectionMultiplexer>>? ConnectionFactory { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether decisions bound for one Redis master while a call to
    /// it is in flight go together in its next call, one script execution that decides each of them
    /// as it would be decided alone. A decision with nothing in flight for its master is sent at
    /// once. Needs Redis 7 (script flags); with an older server every decision is sent alone.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Batching { get; set; } = true;

    /// <summary>Gets when a stuck multiplexer is replaced (section <c>RateLimiting:Redis:Resilience</c>).</summary>
    public RedisResilienceOptions Resilience { get; } = new();
}
