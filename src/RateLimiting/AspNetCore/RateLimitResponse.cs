using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.AspNetCore;

/// <summary>
/// Writes the IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers, structured fields) and
/// rejection responses. Partition values never appear in either.
/// </summary>
internal static class RateLimitResponse
{
    public const string PolicyHeader = "RateLimit-Policy";
    public const string StateHeader = "RateLimit";

    /// <summary>The <c>reason</c> of a request whose cost alone exceeds the limit: the only body that names the limit.</summary>
    public const string CostExceedsLimitReason = "cost_exceeds_limit";

    private const string QuotaExceededReason = "quota_exceeded";
    private const string StoreUnavailableReason = "store_unavailable";

    /// <summary>Adds <c>RateLimit-Policy: "name";q=100;w=3600</c> and <c>RateLimit: "name";r=42;t=17</c>.</summary>
    public static void WriteHeaders(HttpResponse response, DecisionLease lease, CompiledPolicy policy)
    {
        if (response.HasStarted || policy.Options.Shadow || lease.Source == RateLimitDecisionSource.FailOpen)
        {
            // Shadow policies must not change what clients see; fail-open knows no real numbers.
            return;
        }

        var decision = lease.Decision;
        var headers = response.Headers;
        headers.Append(PolicyHeader, policy.PolicyHeaderValue);
        headers.Append(StateHeader, string.Create(CultureInfo.InvariantCulture, $"\"{lease.Policy}\";r={decision.Remaining};t={Seconds(decision.ResetAfter)}"));
    }

    /// <summary>The <c>RateLimit-Policy</c> value of a policy, computed once per (re)load.</summary>
    public static string PolicyHeaderValue(string name, SlidingWindowPolicyOptions options)
        => string.Create(CultureInfo.InvariantCulture, $"\"{name}\";q={options.PermitLimit};w={Seconds(options.Window)}");

    /// <summary>
    /// Writes a problem+json rejection (RFC 9457) from bytes encoded once per kind of rejection
    /// (<see cref="RejectionBodies"/>), with a Content-Length, so that the response leaves in one
    /// write: for an abusive client rejected from the over-limit cache, this is all the work there is.
    /// </summary>
    public static void WriteRejection(HttpContext context, RateLimitLease lease, int quotaStatusCode, RejectionBodies bodies, CancellationToken cancellationToken)
    {
        var (policy, decision, source) = lease is DecisionLease own
            ? (own.Policy, own.Decision, own.Source)
            : (lease.TryGetMetadata(RateLimitMetadata.PolicyName, out var name) ? name : null,
               lease.TryGetMetadata(RateLimitMetadata.Decision, out var d) ? d : default,
               lease.TryGetMetadata(RateLimitMetadata.Source, out var s) ? s : RateLimitDecisionSource.Store);
        var unavailable = source == RateLimitDecisionSource.FailClosed;
        var status = unavailable ? StatusCodes.Status503ServiceUnavailable : quotaStatusCode;
        var response = context.Response;
        response.StatusCode = status;

        var hasRetryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter);
        if (hasRetryAfter)
        {
            response.Headers[HeaderNames.RetryAfter] = Seconds(retryAfter).ToString(CultureInfo.InvariantCulture);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        var body = bodies.Get(policy, status, unavailable ? StoreUnavailableReason : ReasonName(decision.Reason), decision.Limit, hasRetryAfter);
        response.ContentType = "application/problem+json";
        response.ContentLength = body.Length;
        // Kestrel sends it with the headers when the request ends; no flush of our own.
        response.BodyWriter.Write(body);
    }

    /// <summary>Encodes one problem+json body; <see cref="RejectionBodies"/> keeps it.</summary>
    public static byte[] EncodeRejection(string? policy, int status, string reason, int limit, bool hasRetryAfter)
    {
        var unavailable = reason == StoreUnavailableReason;
        var detail = unavailable ? $"Rate limiting is unavailable for policy '{policy}'; retry after the seconds in Retry-After."
            : reason == CostExceedsLimitReason ? $"This request costs more than policy '{policy}' admits per window ({limit}); it can never be admitted."
            : hasRetryAfter ? $"The quota of policy '{policy}' is exhausted; retry after the seconds in Retry-After."
            : $"The quota of policy '{policy}' is exhausted.";
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", unavailable ? "https://tools.ietf.org/html/rfc9110#section-15.6.4" : "https://tools.ietf.org/html/rfc6585#section-4");
            json.WriteString("title", unavailable ? "Service Unavailable" : "Too Many Requests");
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            json.WriteString("policy", policy);
            json.WriteString("reason", reason);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Whole seconds, rounded up so that a client waiting them is never early.</summary>
    private static long Seconds(TimeSpan value) => Math.Max(0, (long)Math.Ceiling(value.TotalSeconds));

    private static string ReasonName(RateLimitRejectReason reason)
        => reason == RateLimitRejectReason.CostExceedsLimit ? CostExceedsLimitReason : QuotaExceededReason;
}
