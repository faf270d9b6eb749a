using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Admin;

#pragma warning disable IDE0130 // Extensions live in the namespace of what they extend, so a user needs no using.
namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps <see cref="IRateLimitAdmin"/> over HTTP.</summary>
public static class RateLimitAdminEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the admin API under <paramref name="prefix"/>, every endpoint behind
    /// <paramref name="authorizationPolicy"/>: <c>GET {policy}/{partition}</c> reads usage,
    /// <c>DELETE {policy}/{partition}</c> resets, <c>PUT {policy}/{partition}/override</c> with
    /// <c>{ "permitLimit": 100, "duration": "00:30:00" }</c> sets a temporary limit and
    /// <c>DELETE {policy}/{partition}/override</c> clears it. The partition value is URL-encoded in
    /// the path (<c>%2F</c> for a slash); <c>?fallback=true</c> names the policy's fallback partition.
    /// </summary>
    /// <param name="endpoints">The application's routes.</param>
    /// <param name="prefix">The route prefix, such as <c>/admin/rate-limits</c>.</param>
    /// <param name="authorizationPolicy">The authorization policy every call must satisfy: an open admin endpoint is a hole, so there is no default.</param>
    /// <returns>The group, for further conventions.</returns>
    /// <exception cref="ArgumentException"><paramref name="authorizationPolicy"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">Authorization is not registered, or does not know <paramref name="authorizationPolicy"/>.</exception>
    public static RouteGroupBuilder MapRateLimitAdmin(this IEndpointRouteBuilder endpoints, string prefix, string authorizationPolicy)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentException.ThrowIfNullOrWhiteSpace(authorizationPolicy);
        var policies = endpoints.ServiceProvider.GetService<IAuthorizationPolicyProvider>()
            ?? throw new InvalidOperationException("The rate-limit admin API needs authorization: call services.AddAuthorization() with the policy it is mapped behind.");
        if (policies.GetPolicyAsync(authorizationPolicy).GetAwaiter().GetResult() is null)
        {
            throw new InvalidOperationException($"The rate-limit admin API is mapped behind the authorization policy '{authorizationPolicy}', which is not registered.");
        }

        var group = endpoints.MapGroup(prefix);
        group.RequireAuthorization(authorizationPolicy);
        RateLimitAdminEndpoints.Map(group);
        return group;
    }
}
