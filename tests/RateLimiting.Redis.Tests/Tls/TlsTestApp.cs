using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>
/// An application on the test server with one limited endpoint, <c>/limited</c> on policy <c>p</c>
/// (global partition), configured only through settings, as a user would in appsettings.json,
/// and its logs captured.
/// </summary>
internal static class TlsTestApp
{
    public static async Task<WebApplication> StartAsync(Dictionary<string, string?> settings, CapturingLoggerProvider? logs = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RateLimiting:Redis:KeyPrefix"] = "tls" + Guid.NewGuid().ToString("N")[..12],
            ["RateLimiting:Policies:p:PermitLimit"] = "100",
            ["RateLimiting:Policies:p:Window"] = "01:00:00",
            ["RateLimiting:Policies:p:PartitionBy"] = "Global",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        }

        builder.Services.AddRedisSlidingWindowLimiter();
        var app = builder.Build();
        app.UseRouting();
        app.UseRateLimiter();
        app.MapGet("/limited", () => "ok").RequireRateLimiting("p");
        try
        {
            await app.StartAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync(); // e.g. options that do not validate
            throw;
        }
    }

    public static async Task<(HttpStatusCode Status, string? RetryAfter)> GetLimitedAsync(this WebApplication app)
    {
        using var response = await app.GetTestClient().GetAsync(new Uri("/limited", UriKind.Relative));
        return (response.StatusCode, response.Headers.TryGetValues("Retry-After", out var values) ? values.Single() : null);
    }
}
