using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RateLimiting.Store;
using RateLimiting.Telemetry;

namespace RateLimiting.Limiter;

/// <summary>
/// One decider per policy name, shared by the policy's own endpoints and by every chain that links
/// it, so that its over-limit cache and failure state are one. Created on first use, so that a
/// chain may link a policy added by a reload.
/// </summary>
internal sealed class PolicyDeciders
{
    private readonly ConcurrentDictionary<string, PolicyDecider> _deciders = new(StringComparer.OrdinalIgnoreCase);
    private readonly Func<string, PolicyDecider> _create;

    public PolicyDeciders(IRateLimitStore store, IRateLimitStore fallback, bool overLimitCache, RateLimitingMetrics? metrics, ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger<PolicyDecider>();

        // One cache per policy, so that equal partition values of different policies never meet.
        _create = name => new PolicyDecider(name, store, fallback, overLimitCache ? new OverLimitCache() : null, metrics, logger);
        if (overLimitCache && store is IRateLimitStoreAdmin administered)
        {
            administered.PartitionChanged += ForgetAll;
        }
    }

    public PolicyDecider Get(string name) => _deciders.GetOrAdd(name, _create);

    private void ForgetAll(string name)
    {
        if (_deciders.TryGetValue(name, out var decider))
        {
            decider.ForgetAll();
        }
    }
}
