using System.Buffers;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using RateLimiting.Limiter;
using RateLimiting.Store;

namespace RateLimiting.AspNetCore;

/// <summary>
/// Writes the IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers, structured fields) and
/// rejection responses, from a decision lease and the policy snapshot it carries, which is the one
/// that decided. Partition values never appear in either.
/// </summary>
internal static class RateLimitResponse
{
    public const string PolicyHeader = "RateLimit-Policy";
    public const string StateHeader = "RateLimit";

    /// <summary>
    /// Adds <c>RateLimit-Policy: "name";q=100;w=3600</c>, with one item per window, and
    /// <c>RateLimit: "name";r=42;t=17</c> for the window with the least remaining. A chain adds both
    /// for each policy it asked, in order.
    /// </summary>
    /// <param name="response">The response.</param>
    /// <param name="lease">One policy's decision.</param>
    /// <param name="refunded">Whether its admission was taken back (a later policy of a chain rejected): its cost is remaining again.</param>
    public static void WriteHeaders(HttpResponse response, DecisionLease lease, bool refunded)
    {
        var policy = lease.Policy;
        if (response.HasStarted || policy.Options.Shadow || lease.Source is RateLimitDecisionSource.FailOpen or RateLimitDecisionSource.Override)
        {
            // Shadow policies must not change what clients see; fail-open knows no real numbers; an
            // exempted or denied request has no quota.
            return;
        }

        var decision = lease.Decision;
        var remaining = refunded ? Math.Min(decision.Limit, decision.Remaining + lease.Request.Cost) : decision.Remaining;
        var headers = response.Headers;
        headers.Append(PolicyHeader, decision.TemporaryLimit == 0 ? policy.PolicyHeaderValue : RateLimitHeaderValues.Policy(policy.ItemNames, policy.Limits, decision.TemporaryLimit));
        headers.Append(StateHeader, RateLimitHeaderValues.State(policy.ItemNames[decision.WindowIndex], remaining, decision.ResetAfter));
    }

    /// <summary>
    /// Writes a problem+json rejection (RFC 9457) from bytes encoded once per kind of rejection
    /// (<see cref="RejectionBodies"/>), with a Content-Length, so that the response leaves in one
    /// write: for an abusive client rejected from the over-limit cache, this is all the work there is.
    /// </summary>
    public static void WriteRejection(HttpContext context, DecisionLease lease, RejectionBodies bodies, CancellationToken cancellationToken)
    {
        var unavailable = lease.Source == RateLimitDecisionSource.FailClosed;
        var status = unavailable ? StatusCodes.Status503ServiceUnavailable
            : lease.Decision.Reason == RateLimitRejectReason.Denied ? lease.Policy.DeniedStatusCode
            : lease.Policy.RejectionStatusCode;
        var response = context.Response;
        response.StatusCode = status;

        var hasRetryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter);
        if (hasRetryAfter)
        {
            response.Headers[HeaderNames.RetryAfter] = RateLimitHeaderValues.Seconds(retryAfter).ToString(CultureInfo.InvariantCulture);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        var decision = lease.Decision;
        var body = bodies.Get(lease.Policy.Name, status, unavailable, decision.Reason, decision.Limit, hasRetryAfter);
        response.ContentType = "application/problem+json";
        response.ContentLength = body.Length;
        // Kestrel sends it with the headers when the request ends; no flush of our own.
        response.BodyWriter.Write(body);
    }
}
