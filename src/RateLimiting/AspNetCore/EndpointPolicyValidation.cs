using System.Collections;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RateLimiting.Policies;

namespace RateLimiting.AspNetCore;

/// <summary>
/// Refuses to start an application whose endpoints name a rate-limit policy nobody declared.
/// ASP.NET Core itself would only find out on the first request, with a 500 per request.
/// </summary>
internal sealed class EndpointPolicyValidation : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        var services = app.ApplicationServices;
        var known = new HashSet<string>(services.GetRequiredService<PolicyRegistry>().Names, StringComparer.OrdinalIgnoreCase);
        if (OtherPolicyNames(services.GetRequiredService<IOptions<RateLimiterOptions>>().Value) is not { } others)
        {
            // The policies registered with AddRateLimiter cannot be read on this version: only
            // endpoints naming one of ours could be checked, which would reject theirs.
            return;
        }

        known.UnionWith(others);
        var missing = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var source in services.GetServices<EndpointDataSource>())
        {
            foreach (var endpoint in source.Endpoints)
            {
                var enable = endpoint.Metadata.GetMetadata<EnableRateLimitingAttribute>();
                if (enable?.PolicyName is { } name && endpoint.Metadata.GetMetadata<DisableRateLimitingAttribute>() is null && !known.Contains(name))
                {
                    missing.Add($"'{name}' (used by {endpoint.DisplayName})");
                }
            }
        }

        if (missing.Count > 0)
        {
            throw new OptionsValidationException(PolicyRegistry.SectionName, typeof(RateLimitingOptions), [.. missing.Select(m => $"{PolicyRegistry.SectionName}:Policies: no policy {m} is declared.")]);
        }
    };

    /// <summary>The names of policies added through <c>AddRateLimiter</c>, kept in non-public maps.</summary>
    private static IEnumerable<string>? OtherPolicyNames(RateLimiterOptions options)
    {
        var names = new List<string>();
        foreach (var field in new[] { "PolicyMap", "UnactivatedPolicyMap" })
        {
            var map = typeof(RateLimiterOptions).GetProperty(field, BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(options) as IDictionary;
            if (map is null)
            {
                return null;
            }

            names.AddRange(map.Keys.OfType<string>());
        }

        return names;
    }
}
