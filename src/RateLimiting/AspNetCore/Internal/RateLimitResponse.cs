using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace RateLimiting.Internal;

/// <summary>
/// Writes the IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers, structured fields) and
/// rejection responses. Partition values never appear in either.
/// </summary>
internal static class RateLimitResponse
{
    public const string PolicyHeader = "RateLimit-Policy";
    public const string StateHeader = "RateLimit";

    /// <summary>Adds <c>RateLimit-Policy: "name";q=100;w=3600</c> and <c>RateLimit: "name";r=42;t=17</c>.</summary>
    public static void WriteHeaders(HttpResponse response, DecisionLease lease, SlidingWindowPolicyOptions options)
    {
        if (response.HasStarted || options.Shadow || lease.Source == RateLimitDecisionSource.FailOpen)
        {
            // Shadow policies must not change what clients see; fail-open knows no real numbers.
            return;
        }

        var decision = lease.Decision;
        var headers = response.Headers;
        headers.Append(PolicyHeader, string.Create(CultureInfo.InvariantCulture, $"\"{lease.Policy}\";q={decision.Limit};w={Seconds(options.Window)}"));
        headers.Append(StateHeader, string.Create(CultureInfo.InvariantCulture, $"\"{lease.Policy}\";r={decision.Remaining};t={Seconds(decision.ResetAfter)}"));
    }

    public static async ValueTask WriteRejectionAsync(HttpContext context, RateLimitLease lease, int quotaStatusCode, CancellationToken cancellationToken)
    {
        lease.TryGetMetadata(RateLimitMetadata.Source, out var source);
        lease.TryGetMetadata(RateLimitMetadata.PolicyName, out var policy);
        lease.TryGetMetadata(RateLimitMetadata.Decision, out var decision);
        var unavailable = source == RateLimitDecisionSource.FailClosed;
        var status = unavailable ? StatusCodes.Status503ServiceUnavailable : quotaStatusCode;

        string detail;
        if (lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            var seconds = Seconds(retryAfter);
            context.Response.Headers[HeaderNames.RetryAfter] = seconds.ToString(CultureInfo.InvariantCulture);
            detail = unavailable
                ? $"Rate limiting is unavailable for policy '{policy}'; retry after {seconds} seconds."
                : $"The quota of policy '{policy}' is exhausted; retry after {seconds} seconds.";
        }
        else
        {
            detail = decision.Reason == RateLimitRejectReason.CostExceedsLimit
                ? $"This request costs more than policy '{policy}' admits per window ({decision.Limit}); it can never be admitted."
                : $"The quota of policy '{policy}' is exhausted.";
        }

        var problem = TypedResults.Problem(
            detail: detail,
            statusCode: status,
            title: unavailable ? "Service Unavailable" : "Too Many Requests",
            extensions: new Dictionary<string, object?> { ["policy"] = policy, ["reason"] = ReasonName(decision.Reason, unavailable) });
        context.Response.StatusCode = status;
        if (!cancellationToken.IsCancellationRequested)
        {
            await problem.ExecuteAsync(context).ConfigureAwait(false);
        }
    }

    /// <summary>Whole seconds, rounded up so that a client waiting them is never early.</summary>
    private static long Seconds(TimeSpan value) => Math.Max(0, (long)Math.Ceiling(value.TotalSeconds));

    private static string ReasonName(RateLimitRejectReason reason, bool unavailable) => unavailable
        ? "store_unavailable"
        : reason == RateLimitRejectReason.CostExceedsLimit ? "cost_exceeds_limit" : "quota_exceeded";
}
