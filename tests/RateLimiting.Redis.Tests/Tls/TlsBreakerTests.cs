using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>
/// A set-up mistake never fixes itself: with a wrong password every request would wait out the
/// deadline for as long as it lasts. The breaker of "no connection" opens instead, the failure
/// mode answers at once, and the logs name the problem once, not once per request.
/// </summary>
[Collection(TlsRedisClusterCollection.Name)]
public sealed class TlsBreakerTests
{
    private const int RequestsWhileOpen = 200;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly TlsRedisClusterFixture _cluster;
    private readonly ITestOutputHelper _output;

    public TlsBreakerTests(TlsRedisClusterFixture cluster, ITestOutputHelper output)
    {
        _cluster = cluster;
        _output = output;
    }

    [Fact]
    public async Task Requests_WrongPassword_AnsweredAtOnceByTheOpenBreakerAndTheCauseLoggedOnce()
    {
        // Arrange
        var logs = new CapturingLoggerProvider();
        var settings = new Dictionary<string, string?>
        {
            ["RateLimiting:Redis:Configuration"] = _cluster.Configuration("ssl=true,sslHost=redis.test,password=not-the-password-4711"),
            ["RateLimiting:Redis:TrustedCaCertificatePath"] = _cluster.CaCertificatePath,
            ["RateLimiting:Policies:p:FailureMode"] = "FailOpen",
        };
        await using var app = await TlsTestApp.StartAsync(settings, logs);
        var breakers = app.Services.GetRequiredService<RedisConnection>().Breakers;
        var responses = new List<HttpStatusCode>();
        await Poll.UntilAsync(
            async () =>
            {
                responses.Add((await app.GetLimitedAsync()).Status);
                return breakers.OpenCount > 0 && logs.Entries.Any(entry => entry.EventId.Name == "RedisPasswordRejected");
            },
            ready => ready,
            Deadline);
        var openings = breakers.Openings;

        // Act
        for (var i = 0; i < RequestsWhileOpen; i++)
        {
            responses.Add((await app.GetLimitedAsync()).Status);
        }

        // Assert: the breaker stayed open throughout, so every one of these was answered without Redis.
        foreach (var entry in logs.Entries.Where(entry => entry.EventId.Name is "BreakerOpened" or "RedisPasswordRejected"))
        {
            _output.WriteLine($"{entry.EventId.Name}: {entry.Text}");
        }

        Assert.All(responses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(1, openings);
        Assert.Equal(openings, breakers.Openings);
        Assert.Equal([MasterBreakers.NoConnectionName], breakers.OpenNames);
        Assert.Contains("failing (authentication,", Assert.Single(logs.Entries, entry => entry.EventId.Name == "BreakerOpened").Text, StringComparison.Ordinal);
        Assert.Single(logs.Entries, entry => entry.EventId.Name == "RedisPasswordRejected");
    }
}
