using RateLimiting.Redis.Diagnostics;
using RateLimiting.Redis.Store;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// Creates multiplexers, from the configuration or the application's
/// <see cref="RedisStoreOptions.ConnectionFactory"/>, each within a deadline of its own, numbered
/// as generations.
/// </summary>
internal sealed class MultiplexerConnector
{
    // The client's own default, for a ConnectionFactory's multiplexer whose configuration is not known before it exists.
    private const int DefaultConnectTimeoutMilliseconds = 5000;

    private readonly RedisStoreOptions _options;
    private readonly RedisConnectionDiagnostics _diagnostics;
    private readonly ClientFailureListener _clientFailures;
    private readonly Action<IConnectionMultiplexer> _connected;
    private int _generations;

    /// <param name="options">The store's options.</param>
    /// <param name="diagnostics">Watches every multiplexer's events.</param>
    /// <param name="connected">Called with every multiplexer connected, before it is used.</param>
    public MultiplexerConnector(RedisStoreOptions options, RedisConnectionDiagnostics diagnostics, Action<IConnectionMultiplexer> connected)
    {
        _connected = connected;
        _options = options;
        _diagnostics = diagnostics;
        _clientFailures = new ClientFailureListener(diagnostics.OnFailure);
    }

    /// <summary>The connect timeout <paramref name="multiplexer"/> was configured with.</summary>
    public static TimeSpan ConnectTimeoutOf(IConnectionMultiplexer multiplexer)
    {
        try
        {
            return TimeSpan.FromMilliseconds(ConfigurationOptions.Parse(multiplexer.Configuration).ConnectTimeout);
        }
        catch (ArgumentException)
        {
            return TimeSpan.FromMilliseconds(DefaultConnectTimeoutMilliseconds);
        }
    }

    /// <summary>
    /// Connects within three connect timeouts (the client waits one for the seed nodes and one for
    /// those they name); a multiplexer that arrives later is disposed, so that a node that accepts
    /// connections and then never answers cannot hold this attempt, and every reconnect after it.
    /// A reconnect seeds the fresh multiplexer with every node <paramref name="replacing"/> knows as
    /// well as the configured endpoints: after a managed cluster replaced its nodes, the configured
    /// ones may all be gone.
    /// </summary>
    public async Task<MultiplexerGeneration> ConnectAsync(MultiplexerGeneration? replacing = null)
    {
        var number = Interlocked.Increment(ref _generations);
        var configuration = _options.ConnectionFactory is null ? RedisConfiguration.Create(_options, _diagnostics.OnCertificateRejected) : null;
        if (configuration is not null)
        {
            configuration.LoggerFactory = _clientFailures;
            foreach (var endpoint in replacing is null ? [] : SlotCoverage.KnownEndPoints(replacing.Multiplexer))
            {
                configuration.EndPoints.TryAdd(endpoint);
            }
        }

        var deadline = 3 * TimeSpan.FromMilliseconds(configuration?.ConnectTimeout ?? DefaultConnectTimeoutMilliseconds);
        using var expired = new CancellationTokenSource(deadline);
        var connecting = configuration is null
            ? _options.ConnectionFactory!(expired.Token)
            : ConnectOwnedAsync(configuration);
        try
        {
            var multiplexer = await connecting.WaitAsync(deadline).ConfigureAwait(false);
            _diagnostics.Attach(multiplexer);
            _connected(multiplexer);
            return new MultiplexerGeneration(number, multiplexer, owned: configuration is not null);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && expired.IsCancellationRequested))
        {
            // The wait and the token share a deadline; whichever timer ran first, the factory is told.
            await expired.CancelAsync().ConfigureAwait(false);
            if (configuration is not null)
            {
                _ = connecting.ContinueWith(
                    static late => late.Result.Dispose(),
                    CancellationToken.None,
                    TaskContinuationOptions.OnlyOnRanToCompletion,
                    TaskScheduler.Default);
            }

            AbandonedCall.Observe(connecting);
            throw new TimeoutException($"Connecting to Redis took longer than {deadline.TotalSeconds:0.#} s.");
        }
    }

    private static async Task<IConnectionMultiplexer> ConnectOwnedAsync(ConfigurationOptions configuration)
        => await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
}
