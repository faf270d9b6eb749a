using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using RateLimiting.Store;

namespace RateLimiting.Admin;

/// <summary>
/// The admin API's handlers (<see cref="RateLimitAdminEndpointRouteBuilderExtensions.MapRateLimitAdmin"/>).
/// The partition value is read from the raw request target: servers decode a path except
/// <c>%2F</c>, so the decoded path cannot tell a slash from an encoded <c>%2F</c>.
/// </summary>
internal static class RateLimitAdminEndpoints
{
    private const string Partition = "{policy}/{partition}";
    private const string Override = Partition + "/override";

    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet(Partition, static (HttpContext context, string policy, bool? fallback, IRateLimitAdmin admin) =>
            HandleAsync(context, fromEnd: 1, async partition => Results.Ok(UsageBody.Of(policy, await admin.GetUsageAsync(policy, partition, fallback ?? false, context.RequestAborted).ConfigureAwait(false)))));
        group.MapDelete(Partition, static (HttpContext context, string policy, bool? fallback, IRateLimitAdmin admin) =>
            HandleAsync(context, fromEnd: 1, async partition => Results.Ok(new ClearedBody(await admin.ResetAsync(policy, partition, fallback ?? false, context.RequestAborted).ConfigureAwait(false)))));
        group.MapPut(Override, static (HttpContext context, string policy, bool? fallback, TemporaryLimitBody body, IRateLimitAdmin admin) =>
            HandleAsync(context, fromEnd: 2, async partition =>
            {
                await admin.SetOverrideAsync(policy, partition, body.PermitLimit, body.Duration, fallback ?? false, context.RequestAborted).ConfigureAwait(false);
                return Results.NoContent();
            }));
        group.MapDelete(Override, static (HttpContext context, string policy, bool? fallback, IRateLimitAdmin admin) =>
            HandleAsync(context, fromEnd: 2, async partition => Results.Ok(new ClearedBody(await admin.ClearOverrideAsync(policy, partition, fallback ?? false, context.RequestAborted).ConfigureAwait(false)))));
    }

    /// <param name="context">The request.</param>
    /// <param name="fromEnd">The partition's segment, counted from the end of the path.</param>
    /// <param name="operate">Calls the admin with the partition value.</param>
    private static async Task<IResult> HandleAsync(HttpContext context, int fromEnd, Func<string, Task<IResult>> operate)
    {
        // Traces carry the route, never the path: the path holds the partition value.
        Activity.Current?.SetTag("url.path", context.GetEndpoint() is RouteEndpoint route ? route.RoutePattern.RawText : null);
        try
        {
            return await operate(PartitionOf(context, fromEnd)).ConfigureAwait(false);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            return Results.Problem(ex.Message, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (ArgumentException ex)
        {
            return Results.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound);
        }
        catch (Exception ex) when (ex is TimeoutException or RateLimitStoreUnavailableException)
        {
            return Results.Problem("The rate-limit store did not answer; nothing was changed or read.", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static string PartitionOf(HttpContext context, int fromEnd)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target) || target[0] != '/')
        {
            target = context.Request.PathBase.Add(context.Request.Path).ToUriComponent();
        }

        var query = target.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? target : target[..query];
        return Uri.UnescapeDataString(path.Split('/')[^fromEnd]);
    }

    /// <summary>The body of <c>PUT …/override</c>.</summary>
    /// <param name="PermitLimit">The temporary limit.</param>
    /// <param name="Duration">How long it holds, such as <c>"00:30:00"</c>.</param>
    internal sealed record TemporaryLimitBody(int PermitLimit, TimeSpan Duration);

    /// <summary>The body of a reset or a cleared temporary limit.</summary>
    /// <param name="Cleared">Whether there was anything to clear.</param>
    internal sealed record ClearedBody(bool Cleared);

    /// <summary>The body of a usage read: durations in seconds, as the headers give them.</summary>
    internal sealed record UsageBody(string Policy, int WindowIndex, int Limit, int Used, int Remaining, double ResetAfterSeconds, double BlockedForSeconds, int? TemporaryLimit, double TemporaryLimitExpiresAfterSeconds)
    {
        public static UsageBody Of(string policy, RateLimitUsage usage) => new(
            policy,
            usage.WindowIndex,
            usage.Limit,
            usage.Used,
            usage.Remaining,
            usage.ResetAfter.TotalSeconds,
            usage.BlockedFor.TotalSeconds,
            usage.TemporaryLimit,
            usage.TemporaryLimitExpiresAfter.TotalSeconds);
    }
}
