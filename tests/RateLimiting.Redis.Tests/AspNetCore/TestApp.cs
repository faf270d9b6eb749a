using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>
/// A small application on the test server, for what the sample does not show: every partition
/// source, code-configured policies and misdeclared endpoints. The headers <c>X-Test-Ip</c> and
/// <c>X-Test-User</c> stand in for the client address and an authenticated user.
/// </summary>
public static class TestApp
{
    public static async Task<WebApplication> StartAsync(
        RedisClusterFixture cluster,
        Dictionary<string, string?> settings,
        Action<WebApplication> map,
        Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RateLimiting:Redis:Configuration"] = cluster.ConfigurationString,
            ["RateLimiting:Redis:KeyPrefix"] = SampleApp.NewKeyPrefix(),
            ["RateLimiting:Redis:OperationTimeout"] = "00:00:10",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddRedisSlidingWindowLimiter();
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        app.Use((context, next) =>
        {
            if (context.Request.Headers.TryGetValue("X-Test-Ip", out var ip))
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
            }

            if (context.Request.Headers.TryGetValue("X-Test-User", out var user))
            {
                context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", user.ToString())], "test"));
            }

            return next(context);
        });
        app.UseRouting();
        app.UseRateLimiter();
        map(app);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    public static Dictionary<string, string?> Policy(string name, int permitLimit, string partitionBy, string? fallback = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"RateLimiting:Policies:{name}:PermitLimit"] = permitLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [$"RateLimiting:Policies:{name}:Window"] = "01:00:00",
            [$"RateLimiting:Policies:{name}:PartitionBy"] = partitionBy,
        };
        if (fallback is not null)
        {
            settings[$"RateLimiting:Policies:{name}:FallbackPartitionBy"] = fallback;
        }

        return settings;
    }

    public static async Task<HttpStatusCode> GetAsync(this WebApplication app, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await app.GetTestClient().SendAsync(request);
        return response.StatusCode;
    }
}
