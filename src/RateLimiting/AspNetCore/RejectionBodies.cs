using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using RateLimiting.Store;

namespace RateLimiting.AspNetCore;

/// <summary>
/// One policy's problem+json rejection bodies (RFC 9457), encoded once per kind (status, reason,
/// limit, whether Retry-After is set) rather than per rejection. It knows the bodies' wording and
/// nothing of responses: <c>RateLimitResponse</c> asks it for bytes, never the other way.
/// </summary>
internal sealed class RejectionBodies
{
    /// <summary>A handful of kinds per policy; more only when its limit is reloaded again and again, and then the old ones go.</summary>
    private const int MaxKinds = 32;

    private const string QuotaExceededReason = "quota_exceeded";

    /// <summary>The <c>reason</c> of a request whose cost alone exceeds the limit: the only body that names the limit.</summary>
    private const string CostExceedsLimitReason = "cost_exceeds_limit";

    private const string StoreUnavailableReason = "store_unavailable";

    private const string DeniedReason = "denied";

    private const string BlockedReason = "blocked";

    private readonly ConcurrentDictionary<(string Policy, int Status, string Reason, int Limit, bool RetryAfter), byte[]> _bodies = new();

    /// <param name="policy">The policy's name.</param>
    /// <param name="status">The response's status code.</param>
    /// <param name="unavailable">The store could not decide and the failure mode rejected.</param>
    /// <param name="reason">Why the store rejected, when it decided.</param>
    /// <param name="limit">The policy's limit.</param>
    /// <param name="hasRetryAfter">Whether the response carries a Retry-After.</param>
    public byte[] Get(string policy, int status, bool unavailable, RateLimitRejectReason reason, int limit, bool hasRetryAfter)
    {
        var reasonName = unavailable ? StoreUnavailableReason
            : reason == RateLimitRejectReason.CostExceedsLimit ? CostExceedsLimitReason
            : reason == RateLimitRejectReason.Denied ? DeniedReason
            : reason == RateLimitRejectReason.Blocked ? BlockedReason
            : QuotaExceededReason;
        var key = (policy, status, reasonName, reasonName == CostExceedsLimitReason ? limit : 0, hasRetryAfter);
        if (_bodies.TryGetValue(key, out var body))
        {
            return body;
        }

        if (_bodies.Count >= MaxKinds)
        {
            _bodies.Clear();
        }

        return _bodies.GetOrAdd(key, static k => Encode(k.Policy, k.Status, k.Reason, k.Limit, k.RetryAfter));
    }

    private static byte[] Encode(string policy, int status, string reason, int limit, bool hasRetryAfter)
    {
        var unavailable = reason == StoreUnavailableReason;
        var denied = reason == DeniedReason;
        var detail = unavailable ? $"Rate limiting is unavailable for policy '{policy}'; retry after the seconds in Retry-After."
            : denied ? $"Policy '{policy}' denies this request."
            : reason == BlockedReason ? $"Policy '{policy}' blocks this client for repeated rejections; retry after the seconds in Retry-After."
            : reason == CostExceedsLimitReason ? $"This request costs more than policy '{policy}' admits per window ({limit}); it can never be admitted."
            : hasRetryAfter ? $"The quota of policy '{policy}' is exhausted; retry after the seconds in Retry-After."
            : $"The quota of policy '{policy}' is exhausted.";
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", unavailable ? "https://tools.ietf.org/html/rfc9110#section-15.6.4"
                : denied ? "https://tools.ietf.org/html/rfc9110#section-15.5.4"
                : "https://tools.ietf.org/html/rfc6585#section-4");
            json.WriteString("title", unavailable ? "Service Unavailable" : denied ? "Forbidden" : "Too Many Requests");
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            json.WriteString("policy", policy);
            json.WriteString("reason", reason);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
