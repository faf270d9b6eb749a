using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Telemetry;

namespace RateLimiting.AspNetCore;

/// <summary>
/// Registers the store-independent part: options, the policy registry, and one ASP.NET Core rate
/// limiter policy per configured policy, so that <c>[EnableRateLimiting]</c>,
/// <c>RequireRateLimiting</c> and <c>UseRateLimiter()</c> work unchanged. Store packages call it.
/// </summary>
internal static class SlidingWindowLimiterServices
{
    public static OptionsBuilder<TOptions> AddCore<TOptions>(IServiceCollection services)
        where TOptions : RateLimitingOptions
    {
        var builder = services.AddOptions<TOptions>();
        if (services.Any(d => d.ServiceType == typeof(PolicyRegistry)))
        {
            return builder;
        }

        builder.ValidateOnStart();
        services.AddHttpContextAccessor();
        services.AddRateLimiter();
        services.AddProblemDetails();
        services.TryAddSingleton(static sp => new PolicyRegistry(
            () => sp.GetRequiredService<IOptionsFactory<TOptions>>().Create(Options.DefaultName),
            sp.GetServices<PolicyConfigurationSource>().Select(source => (Func<Microsoft.Extensions.Primitives.IChangeToken>)source.GetReloadToken),
            sp.GetRequiredService<ILogger<PolicyRegistry>>()));
        services.TryAddSingleton<LocalFallbackStore>();
        services.AddMetrics();
        services.TryAddSingleton<RateLimitingMetrics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, PolicyOptionsValidator<TOptions>>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, EndpointPolicyValidation>());
        services.TryAddSingleton(static sp => new PolicyDeciders(
            sp.GetRequiredService<IRateLimitStore>(),
            sp.GetRequiredService<LocalFallbackStore>().Store,
            sp.GetRequiredService<PolicyRegistry>().Options.OverLimitCache,
            sp.GetRequiredService<RateLimitingMetrics>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddOptions<RateLimiterOptions>().Configure<IServiceProvider>(static (rateLimiterOptions, sp) =>
        {
            var registry = sp.GetRequiredService<PolicyRegistry>();
            var deciders = sp.GetRequiredService<PolicyDeciders>();
            var accessor = sp.GetRequiredService<IHttpContextAccessor>();
            foreach (var name in registry.Names.ToArray())
            {
                rateLimiterOptions.AddPolicy(name, new SlidingWindowRateLimiterPolicy(name, deciders, registry, accessor));
            }
        });
        return builder;
    }

    /// <summary>
    /// Binds <paramref name="section"/> strictly (<see cref="BindStrictly"/>) and makes the registry
    /// follow its reloads, once per service collection: a store package's <c>Add…</c> called twice
    /// binds once and follows one reload once. The first call's section wins.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="builder">The builder <see cref="AddCore"/> returned.</param>
    /// <param name="section">The section shaped like <c>RateLimiting</c>.</param>
    public static void BindOnce<TOptions>(IServiceCollection services, OptionsBuilder<TOptions> builder, Func<IServiceProvider, IConfiguration> section)
        where TOptions : RateLimitingOptions
    {
        // The marker says this collection is bound: an options binding cannot be told apart from
        // any other IConfigureOptions descriptor, so it cannot be found and skipped by itself.
        if (services.Any(d => d.ServiceType == typeof(ConfigurationBound)))
        {
            return;
        }

        services.AddSingleton(new ConfigurationBound());
        builder.Configure<IServiceProvider>((options, sp) => BindStrictly(section(sp), options));
        FollowReloads(services, section);
    }

    /// <summary>
    /// Makes the registry follow <paramref name="section"/>; a second call registers nothing, so one
    /// reload is followed once. Deliberately not an <c>IOptionsChangeTokenSource</c>:
    /// <c>IOptionsMonitor</c> would re-validate on reload and throw into the configuration provider's
    /// reload callback.
    /// </summary>
    public static void FollowReloads(IServiceCollection services, Func<IServiceProvider, IConfiguration> section)
        => services.TryAddSingleton(sp => new PolicyConfigurationSource(section(sp)));

    /// <summary>Binds <paramref name="section"/>; keys that do not bind become validation errors, reported with all others.</summary>
    public static void BindStrictly<TOptions>(IConfiguration section, TOptions options)
        where TOptions : RateLimitingOptions
        => options.ConfigurationErrors.AddRange(ConfigurationKeyCheck.BindStrictly(section, options));

    /// <summary>Registered by the first <see cref="BindOnce"/>.</summary>
    private sealed class ConfigurationBound;
}
