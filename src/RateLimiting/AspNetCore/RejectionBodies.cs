using System.Collections.Concurrent;

namespace RateLimiting.AspNetCore;

/// <summary>
/// One policy's problem+json rejection bodies, encoded once per kind (status, reason, limit,
/// whether Retry-After is set) rather than per rejection.
/// </summary>
internal sealed class RejectionBodies
{
    /// <summary>A handful of kinds per policy; more only when its limit is reloaded again and again, and then the old ones go.</summary>
    private const int MaxKinds = 32;

    private readonly ConcurrentDictionary<(string? Policy, int Status, string Reason, int Limit, bool RetryAfter), byte[]> _bodies = new();

    public byte[] Get(string? policy, int status, string reason, int limit, bool hasRetryAfter)
    {
        var key = (policy, status, reason, reason == RateLimitResponse.CostExceedsLimitReason ? limit : 0, hasRetryAfter);
        if (_bodies.TryGetValue(key, out var body))
        {
            return body;
        }

        if (_bodies.Count >= MaxKinds)
        {
            _bodies.Clear();
        }

        return _bodies.GetOrAdd(key, static k => RateLimitResponse.EncodeRejection(k.Policy, k.Status, k.Reason, k.Limit, k.RetryAfter));
    }
}
