using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;
using RateLimiting.Admin;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>
/// Temporary limits set through <see cref="IRateLimitAdmin"/> on two instances of the sample that
/// share a key prefix and a fake clock: the raise is seen by both, with the headers telling it, and
/// ends by itself when its time is up.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class TemporaryLimitTests
{
    private const string PerClient = "RateLimiting:Policies:per-client";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private readonly RedisClusterFixture _cluster;

    public TemporaryLimitTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task SetOverride_RaisesTheLimitOnBothInstancesThenExpiresByItself()
    {
        var clock = new FakeClock(Instant.FromUtc(2026, 12, 3, 9, 0));
        var prefix = SampleApp.NewKeyPrefix();
        var settings = new Dictionary<string, string?> { [$"{PerClient}:PermitLimit"] = "2" };
        await using var first = new SampleApp(_cluster, settings, prefix, clock);
        await using var second = new SampleApp(_cluster, settings, prefix, clock);
        using var client = second.ClientWithKey("raised");
        var before = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync("/api/hello");
            before.Add(response.StatusCode);
        }

        var admin = first.Services.GetRequiredService<IRateLimitAdmin>();
        await admin.SetOverrideAsync("per-client", "raised", permitLimit: 4, TimeSpan.FromMinutes(30));
        var usage = await admin.GetUsageAsync("per-client", "raised");

        // The second instance's over-limit cache remembered the third request's rejection until
        // the override's notice reached it.
        var raised = await Poll.UntilAsync(() => StatusAndHeadersAsync(client), r => r.Status == HttpStatusCode.OK, Generous);
        using var viaFirst = first.ClientWithKey("raised");
        var fourth = await StatusAndHeadersAsync(viaFirst);
        var full = await StatusAndHeadersAsync(client);

        clock.Advance(Duration.FromMinutes(31));
        var expired = await StatusAndHeadersAsync(viaFirst);
        var usageAfter = await admin.GetUsageAsync("per-client", "raised");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], before);
        Assert.Equal((4, 2, 4, TimeSpan.FromMinutes(30)), (usage.Limit, usage.Used, usage.TemporaryLimit, usage.TemporaryLimitExpiresAfter));
        Assert.Equal(("\"per-client\";q=4;w=3600", "\"per-client\";r=1;t=3600"), (raised.Policy, raised.State));
        Assert.Equal((HttpStatusCode.OK, "\"per-client\";r=0;t=3600"), (fourth.Status, fourth.State));
        Assert.Equal(HttpStatusCode.TooManyRequests, full.Status);
        Assert.Equal((HttpStatusCode.TooManyRequests, "\"per-client\";q=2;w=3600"), (expired.Status, expired.Policy));
        Assert.Equal((2, 4, (int?)null), (usageAfter.Limit, usageAfter.Used, usageAfter.TemporaryLimit));
    }

    [Fact]
    public async Task SetOverride_BeforeAnyRequest_AppliesToTheFirstAndClearRestoresTheLimit()
    {
        await using var app = new SampleApp(_cluster, new() { [$"{PerClient}:PermitLimit"] = "5" });
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();
        await admin.SetOverrideAsync("per-client", "new-customer", permitLimit: 1, TimeSpan.FromHours(1));
        using var client = app.ClientWithKey("new-customer");

        var lowered = new[] { await StatusAndHeadersAsync(client), await StatusAndHeadersAsync(client) };
        var cleared = await admin.ClearOverrideAsync("per-client", "new-customer");
        var restored = await StatusAndHeadersAsync(client);
        var clearedAgain = await admin.ClearOverrideAsync("per-client", "new-customer");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests], lowered.Select(r => r.Status));
        Assert.Equal("\"per-client\";q=1;w=3600", lowered[0].Policy);
        Assert.True(cleared);
        Assert.Equal((HttpStatusCode.OK, "\"per-client\";r=3;t=3600"), (restored.Status, restored.State));
        Assert.False(clearedAgain);
    }

    [Fact]
    public async Task SetOverride_SeveralWindows_ReplacesTheLongestWindowsLimitOnly()
    {
        var clock = new FakeClock(Instant.FromUtc(2026, 12, 3, 9, 0));
        await using var app = new SampleApp(_cluster, TieredOfTwoAndThree(), clock: clock);
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();
        await admin.SetOverrideAsync("tiered", "burst", permitLimit: 5, TimeSpan.FromHours(1));
        using var client = app.ClientWithKey("burst");

        var responses = new List<(HttpStatusCode Status, string? Policy, string? State)>();
        foreach (var seconds in new[] { 0, 0, 0, 2, 2, 4, 4 })
        {
            clock.Reset(Instant.FromUtc(2026, 12, 3, 9, 0).Plus(Duration.FromSeconds(seconds)));
            responses.Add(await StatusAndHeadersAsync(client, "/api/search"));
        }

        // The burst window keeps its 2; the hour admits 5 where its configured limit is 3.
        Assert.Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            responses.Select(r => r.Status));
        Assert.All(responses, r => Assert.Equal("\"tiered-1s\";q=2;w=1, \"tiered-1h\";q=5;w=3600", r.Policy));
        Assert.Equal("\"tiered-1s\";r=0;t=1", responses[4].State);
        Assert.Equal("\"tiered-1h\";r=0;t=3596", responses[5].State);
    }

    [Fact]
    public async Task SetOverride_SeveralWindowsAfterRequests_TheNextRequestSeesItAndClearRestoresTheLimit()
    {
        // The partition's totals exist before the limit is set: they are flagged for the next request.
        var start = Instant.FromUtc(2026, 12, 3, 9, 0);
        var clock = new FakeClock(start);
        await using var app = new SampleApp(_cluster, TieredOfTwoAndThree(), clock: clock);
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();
        using var client = app.ClientWithKey("raised-later");
        async Task<(HttpStatusCode Status, string? Policy, string? State)> At(int seconds)
        {
            clock.Reset(start.Plus(Duration.FromSeconds(seconds)));
            return await StatusAndHeadersAsync(client, "/api/search");
        }

        var before = new[] { await At(0), await At(0) };
        await admin.SetOverrideAsync("tiered", "raised-later", permitLimit: 4, TimeSpan.FromHours(1));
        var raised = new[] { await At(2), await At(2), await At(4) };
        await admin.ClearOverrideAsync("tiered", "raised-later");
        var cleared = await At(6);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], before.Select(r => r.Status));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], raised.Select(r => r.Status));
        Assert.Equal("\"tiered-1s\";q=2;w=1, \"tiered-1h\";q=4;w=3600", raised[0].Policy);
        Assert.Equal((HttpStatusCode.TooManyRequests, "\"tiered-1s\";q=2;w=1, \"tiered-1h\";q=3;w=3600"), (cleared.Status, cleared.Policy));
    }

    [Fact]
    public async Task SetOverride_OutOfRange_Throws()
    {
        await using var app = new SampleApp(_cluster);
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.SetOverrideAsync("per-client", "k", 0, TimeSpan.FromMinutes(1)).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.SetOverrideAsync("per-client", "k", 10, TimeSpan.Zero).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.SetOverrideAsync("per-client", "k", 10, TimeSpan.FromDays(367)).AsTask());
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => admin.ClearOverrideAsync("nope", "k").AsTask());
        var usage = await admin.GetUsageAsync("per-client", "k");
        Assert.Contains("'nope'", unknown.Message, StringComparison.Ordinal);
        Assert.Null(usage.TemporaryLimit);
    }

    /// <summary>The sample's <c>tiered</c> policy at 2 per second and 3 per hour, without the over-limit cache.</summary>
    private static Dictionary<string, string?> TieredOfTwoAndThree() => new()
    {
        ["RateLimiting:Policies:tiered:Limits:0:PermitLimit"] = "2",
        ["RateLimiting:Policies:tiered:Limits:1:PermitLimit"] = "3",
        ["RateLimiting:OverLimitCache"] = "false",
    };

    private static async Task<(HttpStatusCode Status, string? Policy, string? State)> StatusAndHeadersAsync(HttpClient client, string path = "/api/hello")
    {
        using var response = await client.GetAsync(path);
        return (response.StatusCode, SampleApp.Header(response, "RateLimit-Policy"), SampleApp.Header(response, "RateLimit"));
    }
}
