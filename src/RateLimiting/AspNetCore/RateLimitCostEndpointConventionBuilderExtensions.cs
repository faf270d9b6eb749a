using RateLimiting.AspNetCore;

#pragma warning disable IDE0130 // Extensions live in the namespace of what they extend, so a user needs no using.
namespace Microsoft.AspNetCore.Builder;

/// <summary>Sets the rate-limit cost of minimal-API endpoints.</summary>
public static class RateLimitCostEndpointConventionBuilderExtensions
{
    /// <summary>Each request to the endpoint consumes <paramref name="cost"/> permits of its policy.</summary>
    /// <typeparam name="TBuilder">The endpoint builder.</typeparam>
    /// <param name="builder">The endpoint or group.</param>
    /// <param name="cost">The cost of one request; at least 1.</param>
    /// <returns>The builder.</returns>
    public static TBuilder WithRateLimitCost<TBuilder>(this TBuilder builder, int cost)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var metadata = new RateLimitCostAttribute(cost);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
