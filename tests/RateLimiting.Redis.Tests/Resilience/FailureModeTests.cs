using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using RateLimiting.Redis.Tests.AspNetCore;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>Redis unreachable from the start: every request is answered by the policy's failure mode, never with a 500.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class FailureModeTests
{
    private readonly RedisClusterFixture _cluster;

    public FailureModeTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Request_RedisUnreachableFailOpen_Admitted()
    {
        await using var app = await StartAgainstNothingAsync("FailOpen", permitLimit: 1);

        var statuses = await SendAsync(app, 3);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s.Status));
        Assert.All(statuses, s => Assert.Null(s.RateLimit));
    }

    [Fact]
    public async Task Request_RedisUnreachableFailClosed_ServiceUnavailableWithRetryAfter()
    {
        await using var app = await StartAgainstNothingAsync("FailClosed", permitLimit: 100);

        var statuses = await SendAsync(app, 3);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.ServiceUnavailable, s.Status));
        Assert.All(statuses, s => Assert.Equal("1", s.RetryAfter));
    }

    [Fact]
    public async Task Request_RedisUnreachableLocalFallback_EnforcesTheLimitInThisInstance()
    {
        await using var app = await StartAgainstNothingAsync("LocalFallback", permitLimit: 2);

        var statuses = await SendAsync(app, 4);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses.Select(s => s.Status));
        Assert.Equal("\"p\";r=1;t=3600", statuses[0].RateLimit);
        Assert.Equal("3600", statuses[2].RetryAfter);
    }

    /// <summary>An application whose Redis configuration names a loopback port nobody listens on.</summary>
    private Task<WebApplication> StartAgainstNothingAsync(string failureMode, int permitLimit)
    {
        var settings = TestApp.Policy("p", permitLimit, "Global");
        settings["RateLimiting:Policies:p:FailureMode"] = failureMode;
        settings["RateLimiting:Redis:Configuration"] = $"127.0.0.1:{UnusedPort()},connectTimeout=200";
        settings["RateLimiting:Redis:OperationTimeout"] = "00:00:00.200";
        return TestApp.StartAsync(_cluster, settings, app => app.MapGet("/limited", () => "ok").RequireRateLimiting("p"));
    }

    private static async Task<List<(HttpStatusCode Status, string? RetryAfter, string? RateLimit)>> SendAsync(WebApplication app, int count)
    {
        var results = new List<(HttpStatusCode, string?, string?)>();
        using var client = app.GetTestClient();
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync("/limited");
            results.Add((
                response.StatusCode,
                response.Headers.TryGetValues("Retry-After", out var retry) ? retry.Single() : null,
                response.Headers.TryGetValues("RateLimit", out var state) ? state.Single() : null));
        }

        return results;
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
