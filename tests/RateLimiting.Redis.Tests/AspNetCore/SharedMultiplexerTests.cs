using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Redis.Tests.Infrastructure;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>The README's pattern for an application that registers its own <see cref="IConnectionMultiplexer"/>.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class SharedMultiplexerTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly RedisClusterFixture _cluster;

    public SharedMultiplexerTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Request_FactoryReturnsTheRegisteredMultiplexer_RedisDecidesAndTheMultiplexerOutlivesTheApp()
    {
        // Arrange
        using var shared = await ConnectionMultiplexer.ConnectAsync(_cluster.ConfigurationString).WaitAsync(Generous);
        var statuses = new List<HttpStatusCode>();

        // Act: three requests on a limit of two, then the application stops.
        await using (var app = await TestApp.StartAsync(
            _cluster,
            TestApp.Policy("p", permitLimit: 2, "Global"),
            app => app.MapGet("/limited", () => "ok").RequireRateLimiting("p"),
            services =>
            {
                services.AddSingleton<IConnectionMultiplexer>(shared);
                services.AddOptions<RedisRateLimitingOptions>()
                    .Configure<IConnectionMultiplexer>((options, multiplexer) => options.Redis.ConnectionFactory = _ => Task.FromResult(multiplexer));
            }))
        {
            for (var i = 0; i < 3; i++)
            {
                statuses.Add(await app.GetAsync("/limited"));
            }
        }

        // Assert: only Redis rejects (the failure mode, FailOpen, would admit), and the application's multiplexer is still open.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.True(shared.IsConnected);
        Assert.True(await shared.GetDatabase().PingAsync().WaitAsync(Generous) >= TimeSpan.Zero);
    }
}
