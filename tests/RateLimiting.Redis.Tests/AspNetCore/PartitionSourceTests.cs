using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Policies;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

[Collection(RedisClusterCollection.Name)]
public sealed class PartitionSourceTests
{
    private readonly RedisClusterFixture _cluster;

    public PartitionSourceTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Theory]
    [InlineData("Header:X-Api-Key", "X-Api-Key", "/limited")]
    [InlineData("ClientIp", "X-Test-Ip", "/limited")]
    [InlineData("Claim:sub", "X-Test-User", "/limited")]
    [InlineData("Query:key", null, "/limited?key=")]
    [InlineData("Route:tenant", null, "/tenants/")]
    public async Task Request_EachPartitionSource_SeparatesPartitions(string partitionBy, string? header, string path)
    {
        await using var app = await TestApp.StartAsync(_cluster, TestApp.Policy("p", 1, partitionBy), MapLimited);

        Task<HttpStatusCode> Send(string value) => header is null
            ? app.GetAsync(path + value)
            : app.GetAsync(path, (header, value));

        var first = await Send("10.0.0.1");
        var repeated = await Send("10.0.0.1");
        var other = await Send("10.0.0.2");

        Assert.Equal(HttpStatusCode.OK, first);
        Assert.Equal(HttpStatusCode.TooManyRequests, repeated);
        Assert.Equal(HttpStatusCode.OK, other);
    }

    [Fact]
    public async Task Request_MissingHeader_FallsBackToClientIpWithoutCollidingWithKeys()
    {
        await using var app = await TestApp.StartAsync(_cluster, TestApp.Policy("p", 1, "Header:X-Api-Key", fallback: "ClientIp"), MapLimited);

        var byIp = await app.GetAsync("/limited", ("X-Test-Ip", "10.0.0.1"));
        var byIpAgain = await app.GetAsync("/limited", ("X-Test-Ip", "10.0.0.1"));
        var byKeyLookingLikeTheIp = await app.GetAsync("/limited", ("X-Api-Key", "10.0.0.1"), ("X-Test-Ip", "10.0.0.1"));

        Assert.Equal(HttpStatusCode.OK, byIp);
        Assert.Equal(HttpStatusCode.TooManyRequests, byIpAgain);
        Assert.Equal(HttpStatusCode.OK, byKeyLookingLikeTheIp);
    }

    [Fact]
    public async Task Request_NoValueAndNoFallback_SharesOnePartition()
    {
        await using var app = await TestApp.StartAsync(_cluster, TestApp.Policy("p", 1, "Header:X-Api-Key"), MapLimited);

        var first = await app.GetAsync("/limited");
        var second = await app.GetAsync("/limited", ("X-Test-Ip", "10.9.9.9"));

        Assert.Equal(HttpStatusCode.OK, first);
        Assert.Equal(HttpStatusCode.TooManyRequests, second);
    }

    [Fact]
    public async Task Request_CustomPartitionerAndCostSelectorInCode_AreUsed()
    {
        var settings = TestApp.Policy("p", 10, "Custom");
        await using var app = await TestApp.StartAsync(_cluster, settings, MapLimited, services =>
            services.Configure<RedisRateLimitingOptions>(options =>
            {
                options.Policies["p"].PartitionKeySelector = context => context.Request.Headers["X-Tenant"].ToString().ToUpperInvariant();
                options.Policies["p"].CostSelector = context => int.Parse(context.Request.Headers["X-Cost"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
            }));

        var expensive = await app.GetAsync("/limited", ("X-Tenant", "acme"), ("X-Cost", "8"));
        var tooMuch = await app.GetAsync("/limited", ("X-Tenant", "ACME"), ("X-Cost", "3"));
        var fits = await app.GetAsync("/limited", ("X-Tenant", "Acme"), ("X-Cost", "2"));

        Assert.Equal(HttpStatusCode.OK, expensive);
        Assert.Equal(HttpStatusCode.TooManyRequests, tooMuch);
        Assert.Equal(HttpStatusCode.OK, fits);
    }

    [Fact]
    public async Task Start_EndpointNamesUndeclaredPolicy_FailsNamingIt()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = await TestApp.StartAsync(_cluster, TestApp.Policy("p", 1, "Global"), app =>
            {
                app.MapGet("/ok", () => "ok").RequireRateLimiting("p");
                app.MapGet("/typo", () => "typo").RequireRateLimiting("q");
            });
        });

        Assert.Contains("'q'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'p'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_EndpointNamesPolicyAddedThroughAddRateLimiter_Starts()
    {
        await using var app = await TestApp.StartAsync(
            _cluster,
            TestApp.Policy("p", 1, "Global"),
            app => app.MapGet("/theirs", () => "ok").RequireRateLimiting("theirs"),
            services => services.AddRateLimiter(options => options.AddFixedWindowLimiter("theirs", o => { o.PermitLimit = 1; o.Window = TimeSpan.FromHours(1); })));

        Assert.Equal(HttpStatusCode.OK, await app.GetAsync("/theirs"));
    }

    [Fact]
    public async Task Request_CodeOnlyConfiguration_Works()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        Microsoft.AspNetCore.TestHost.WebHostBuilderExtensions.UseTestServer(builder.WebHost);
        builder.Services.AddRedisSlidingWindowLimiter(options =>
        {
            options.Redis.Configuration = _cluster.ConfigurationString;
            options.Redis.KeyPrefix = SampleApp.NewKeyPrefix();
            options.Policies["code"] = new SlidingWindowPolicyOptions { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" };
        });
        await using var app = builder.Build();
        app.UseRateLimiter();
        app.MapGet("/code", () => "ok").RequireRateLimiting("code");
        await app.StartAsync();

        Assert.Equal(HttpStatusCode.OK, await app.GetAsync("/code"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await app.GetAsync("/code"));
    }

    private static void MapLimited(WebApplication app)
    {
        app.MapGet("/limited", () => "ok").RequireRateLimiting("p");
        app.MapGet("/tenants/{tenant}", (string tenant) => tenant).RequireRateLimiting("p");
    }
}
