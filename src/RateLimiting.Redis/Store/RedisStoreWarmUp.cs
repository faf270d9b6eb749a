using Microsoft.Extensions.Hosting;

namespace RateLimiting.Redis.Store;

/// <summary>
/// Starts connecting when the application starts, so that the first requests find a connected
/// multiplexer (a TLS cluster's handshakes take longer than a decision's deadline). Never delays
/// start-up: an application starts while Redis is down, its failure modes answering meanwhile.
/// </summary>
internal sealed class RedisStoreWarmUp : IHostedService
{
    private readonly RedisRateLimitStore _store;
    private readonly CancellationTokenSource _stopping = new();

    public RedisStoreWarmUp(RedisRateLimitStore store) => _store = store;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = _store.ProbeAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    // Hosts may stop a service twice; a CancellationTokenSource without a timer needs no disposing.
    public Task StopAsync(CancellationToken cancellationToken) => _stopping.CancelAsync();
}
