using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Telemetry;

namespace RateLimiting.Admin;

/// <summary>
/// <see cref="IRateLimitAdmin"/> on a store that can be administered: names the partition as the
/// policy's source names it for requests, asks the store, and makes this instance's over-limit
/// cache forget a partition reset or given a temporary limit at once (other instances hear of it
/// from the store).
/// </summary>
internal sealed partial class RateLimitAdmin : IRateLimitAdmin
{
    /// <summary>The longest temporary limit: a raise meant for good belongs in the configuration.</summary>
    private static readonly TimeSpan MaxOverrideDuration = TimeSpan.FromDays(366);

    private readonly IRateLimitStoreAdmin _store;
    private readonly PolicyRegistry _registry;
    private readonly PolicyDeciders _deciders;
    private readonly RateLimitingMetrics _metrics;
    private readonly ILogger _logger;

    public RateLimitAdmin(IRateLimitStore store, PolicyRegistry registry, PolicyDeciders deciders, RateLimitingMetrics metrics, ILogger<RateLimitAdmin> logger)
    {
        _store = store as IRateLimitStoreAdmin ?? throw new InvalidOperationException($"The rate-limit store ({store.GetType().Name}) cannot be administered.");
        _registry = registry;
        _deciders = deciders;
        _metrics = metrics;
        _logger = logger;
    }

    public ValueTask<RateLimitUsage> GetUsageAsync(string policy, string partitionValue, bool fallback = false, CancellationToken cancellationToken = default)
        => OperateAsync(Operations.Usage, policy, partitionValue, fallback, forgets: false, (request, token) => _store.GetUsageAsync(request, token), cancellationToken);

    public ValueTask<bool> ResetAsync(string policy, string partitionValue, bool fallback = false, CancellationToken cancellationToken = default)
        => OperateAsync(Operations.Reset, policy, partitionValue, fallback, forgets: true, (request, token) => _store.ResetAsync(request, token), cancellationToken);

    public async ValueTask SetOverrideAsync(string policy, string partitionValue, int permitLimit, TimeSpan duration, bool fallback = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permitLimit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(duration, MaxOverrideDuration);
        await OperateAsync(Operations.SetOverride, policy, partitionValue, fallback, forgets: true, (request, token) => _store.SetTemporaryLimitAsync(request, permitLimit, duration, token), cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> ClearOverrideAsync(string policy, string partitionValue, bool fallback = false, CancellationToken cancellationToken = default)
        => OperateAsync(Operations.ClearOverride, policy, partitionValue, fallback, forgets: true, (request, token) => _store.SetTemporaryLimitAsync(request, 0, TimeSpan.Zero, token), cancellationToken);

    /// <param name="operation">The operation's tag value.</param>
    /// <param name="name">The policy.</param>
    /// <param name="partitionValue">The value its source reads.</param>
    /// <param name="fallback">Whether that source is its fallback.</param>
    /// <param name="forgets">Whether the operation may let in what this instance's over-limit cache rejects.</param>
    /// <param name="call">The store's operation.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    private async ValueTask<T> OperateAsync<T>(string operation, string name, string partitionValue, bool fallback, bool forgets, Func<RateLimitRequest, CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        var (request, decider) = RequestFor(name, partitionValue, fallback);
        var startedAt = Stopwatch.GetTimestamp();
        try
        {
            var result = await call(request, cancellationToken).ConfigureAwait(false);
            if (forgets)
            {
                // At once here; other instances when the store's notice reaches them.
                decider.Forget(request.Partition);
            }

            Operated(request.Policy, operation, startedAt, RateLimitingMetrics.Outcomes.Success, null);
            return result;
        }
        catch (Exception ex)
        {
            Operated(request.Policy, operation, startedAt, OutcomeOf(ex, cancellationToken), ex);
            throw;
        }
    }

    private static string OutcomeOf(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException when cancellationToken.IsCancellationRequested => RateLimitingMetrics.Outcomes.Canceled,
        TimeoutException => RateLimitingMetrics.Outcomes.Timeout,
        RateLimitStoreUnavailableException => RateLimitingMetrics.Outcomes.Unavailable,
        _ => RateLimitingMetrics.Outcomes.Error,
    };

    /// <summary>The request a partition of <paramref name="name"/> would be decided with, under the name its decider keys the store with.</summary>
    private (RateLimitRequest Request, PolicyDecider Decider) RequestFor(string name, string partitionValue, bool fallback)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(partitionValue);
        if (!_registry.Current.Policies.TryGetValue(name, out var policy))
        {
            var what = _registry.Current.Chains.ContainsKey(name) ? "is a chain: name one of its links" : "is not a configured policy";
            throw new ArgumentException($"'{name}' {what}.", "policy");
        }

        var source = fallback
            ? policy.Fallback ?? throw new ArgumentException($"'{name}' has no FallbackPartitionBy.", nameof(fallback))
            : policy.Primary;
        var decider = _deciders.Get(name);
        return (new RateLimitRequest(decider.Name, source.Format(partitionValue), policy.Limits, cost: 0) { Block = policy.Block }, decider);
    }

    private void Operated(string policy, string operation, long startedAt, string outcome, Exception? exception)
    {
        _metrics.AdminOperated(policy, operation, outcome);
        Log.Operated(_logger, operation, policy, outcome, Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds, exception);
    }

    /// <summary>The values of <see cref="RateLimitingMetrics.OperationTag"/>.</summary>
    private static class Operations
    {
        public const string Usage = "usage";
        public const string Reset = "reset";
        public const string SetOverride = "set_override";
        public const string ClearOverride = "clear_override";
    }

    private static partial class Log
    {
        // The partition value is left out on purpose: it may be a key.
        [LoggerMessage(EventId = 30, EventName = "AdminOperated", Level = LogLevel.Information, Message = "Rate-limit admin {Operation} of a partition of policy {Policy}: {Outcome} in {ElapsedMs:0.0} ms.")]
        public static partial void Operated(ILogger logger, string operation, string policy, string outcome, double elapsedMs, Exception? exception);
    }
}
