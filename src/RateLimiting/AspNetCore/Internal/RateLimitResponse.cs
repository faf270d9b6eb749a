using System.Globalization;
using System.Text.Json;
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
    /// Writes a problem+json rejection (RFC 9457). Written directly rather than through
    /// <c>ProblemDetails</c> serialization: for an abusive client rejected from the over-limit cache,
    /// this response is all the work there is.
    /// </summary>
    public static async ValueTask WriteRejectionAsync(HttpContext context, RateLimitLease lease, int quotaStatusCode, CancellationToken cancellationToken)
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

        string detail;
        if (lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            var seconds = Seconds(retryAfter);
            response.Headers[HeaderNames.RetryAfter] = seconds.ToString(CultureInfo.InvariantCulture);
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

        if (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        response.ContentType = "application/problem+json";
        // Over an IBufferWriter the writer only advances the pipe; the flush below does the I/O.
        using (var json = new Utf8JsonWriter(response.BodyWriter))
        {
            json.WriteStartObject();
            json.WriteString("type", unavailable ? "https://tools.ietf.org/html/rfc9110#section-15.6.4" : "https://tools.ietf.org/html/rfc6585#section-4");
            json.WriteString("title", unavailable ? "Service Unavailable" : "Too Many Requests");
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            json.WriteString("policy", policy);
            json.WriteString("reason", ReasonName(decision.Reason, unavailable));
            json.WriteEndObject();
        }

        await response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whole seconds, rounded up so that a client waiting them is never early.</summary>
    private static long Seconds(TimeSpan value) => Math.Max(0, (long)Math.Ceiling(value.TotalSeconds));

    private static string ReasonName(RateLimitRejectReason reason, bool unavailable) => unavailable
        ? "store_unavailable"
        : reason == RateLimitRejectReason.CostExceedsLimit ? "cost_exceeds_limit" : "quota_exceeded";
}
