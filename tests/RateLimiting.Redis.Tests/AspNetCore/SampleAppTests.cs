using System.Net;
using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

[Collection(RedisClusterCollection.Name)]
public sealed class SampleAppTests
{
    private const string PermitLimit = "RateLimiting:Policies:per-client:PermitLimit";
    private readonly RedisClusterFixture _cluster;

    public SampleAppTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Hello_PermitLimitReached_ExactlyNSuccessesThen429WithExactHeaders()
    {
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        // The over-limit cache counts real time, not the fake clock's.
        await using var app = new SampleApp(_cluster, new() { [PermitLimit] = "5", ["RateLimiting:OverLimitCache"] = "false" }, clock: clock);
        using var client = app.ClientWithKey("alice");

        for (var i = 0; i < 5; i++)
        {
            using var admitted = await client.GetAsync("/api/hello");
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
            Assert.Equal("\"per-client\";q=5;w=3600", SampleApp.Header(admitted, "RateLimit-Policy"));
            Assert.Equal($"\"per-client\";r={4 - i};t=3600", SampleApp.Header(admitted, "RateLimit"));
        }

        using var rejected = await client.GetAsync("/api/hello");
        clock.Advance(Duration.FromMinutes(10));
        using var later = await client.GetAsync("/api/hello");

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal("3600", SampleApp.Header(rejected, "Retry-After"));
        Assert.Equal("\"per-client\";r=0;t=3600", SampleApp.Header(rejected, "RateLimit"));
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        var body = await rejected.Content.ReadAsByteArrayAsync();
        Assert.Equal(body.Length, rejected.Content.Headers.ContentLength);
        using (var problem = System.Text.Json.JsonDocument.Parse(body))
        {
            Assert.Equal("quota_exceeded", problem.RootElement.GetProperty("reason").GetString());
            Assert.Equal("per-client", problem.RootElement.GetProperty("policy").GetString());
            Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, later.StatusCode);
        Assert.Equal("3000", SampleApp.Header(later, "Retry-After"));
        Assert.Equal("\"per-client\";r=0;t=3000", SampleApp.Header(later, "RateLimit"));
    }

    [Fact]
    public async Task Hello_TwoAppInstances_ShareOneQuota()
    {
        var prefix = SampleApp.NewKeyPrefix();
        await using var first = new SampleApp(_cluster, new() { [PermitLimit] = "6" }, prefix);
        await using var second = new SampleApp(_cluster, new() { [PermitLimit] = "6" }, prefix);
        using var firstClient = first.ClientWithKey("shared");
        using var secondClient = second.ClientWithKey("shared");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await firstClient.GetAsync("/api/hello")).StatusCode);
            statuses.Add((await secondClient.GetAsync("/api/hello")).StatusCode);
        }

        Assert.Equal(6, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(4, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.All(statuses.Skip(6), s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
    }

    [Fact]
    public async Task Report_CostTen_ConsumesTenPermitsOfTheSameQuota()
    {
        await using var app = new SampleApp(_cluster, new() { [PermitLimit] = "25" });
        using var client = app.ClientWithKey("heavy");

        using var first = await client.GetAsync("/api/report");
        using var second = await client.GetAsync("/api/report");
        using var third = await client.GetAsync("/api/report");
        using var light = await client.GetAsync("/api/hello");

        Assert.Equal("\"per-client\";r=15;t=3600", SampleApp.Header(first, "RateLimit"));
        Assert.Equal("\"per-client\";r=5;t=3600", SampleApp.Header(second, "RateLimit"));
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal(HttpStatusCode.OK, light.StatusCode);
        Assert.Equal("\"per-client\";r=4;t=3600", SampleApp.Header(light, "RateLimit"));
    }

    [Fact]
    public async Task ControllerAndMinimalApi_SamePolicy_ShareQuotaAndHeaders()
    {
        await using var app = new SampleApp(_cluster, new() { [PermitLimit] = "4" });
        using var client = app.ClientWithKey("parity");

        using var controller = await client.GetAsync("/api/orders");
        using var minimal = await client.GetAsync("/api/hello");
        using var export = await client.GetAsync("/api/orders/export");
        using var ping = await client.GetAsync("/api/orders/ping");

        Assert.Equal(HttpStatusCode.OK, controller.StatusCode);
        Assert.Equal("\"per-client\";r=3;t=3600", SampleApp.Header(controller, "RateLimit"));
        Assert.Equal("\"per-client\";r=2;t=3600", SampleApp.Header(minimal, "RateLimit"));
        Assert.Equal(HttpStatusCode.TooManyRequests, export.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        Assert.False(ping.Headers.Contains("RateLimit"));
    }

    [Fact]
    public async Task Hello_CostAboveLimit_RejectedWithReasonAndNoRetryAfter()
    {
        await using var app = new SampleApp(_cluster, new() { [PermitLimit] = "3" });
        using var client = app.ClientWithKey("too-expensive");

        using var response = await client.GetAsync("/api/report");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.False(response.Headers.Contains("Retry-After"));
        Assert.Contains("cost_exceeds_limit", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Hello_ShadowPolicy_NeverRejectsButRecords()
    {
        await using var app = new SampleApp(_cluster, new() { [PermitLimit] = "1", ["RateLimiting:Policies:per-client:Shadow"] = "true" });
        using var client = app.ClientWithKey("shadowed");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync("/api/hello");
            statuses.Add(response.StatusCode);
            Assert.False(response.Headers.Contains("RateLimit"));
        }

        app.Reloadable.Set(new Dictionary<string, string?> { ["RateLimiting:Policies:per-client:Shadow"] = "false" });
        using var enforced = await client.GetAsync("/api/hello");

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, enforced.StatusCode);
    }

    [Fact]
    public async Task Hello_PermitLimitReloaded_AppliesWithoutRestartAndInvalidReloadIsIgnored()
    {
        await using var app = new SampleApp(_cluster, new() { [PermitLimit] = "2" });
        using var client = app.ClientWithKey("reloaded");
        await client.GetAsync("/api/hello");
        await client.GetAsync("/api/hello");
        using var beforeReload = await client.GetAsync("/api/hello");

        app.Reloadable.Set(new Dictionary<string, string?> { [PermitLimit] = "3" });
        using var afterReload = await client.GetAsync("/api/hello");
        app.Reloadable.Set(new Dictionary<string, string?> { [PermitLimit] = "0" });
        using var afterInvalidReload = await client.GetAsync("/api/hello");

        Assert.Equal(HttpStatusCode.TooManyRequests, beforeReload.StatusCode);
        Assert.Equal("\"per-client\";r=0;t=3600", SampleApp.Header(afterReload, "RateLimit"));
        Assert.Equal(HttpStatusCode.TooManyRequests, afterInvalidReload.StatusCode);
        Assert.Equal("\"per-client\";q=3;w=3600", SampleApp.Header(afterInvalidReload, "RateLimit-Policy"));
    }

    /// <summary>Hostile API keys, against the one-window policy (<c>/api/hello</c>) and the one of two windows (<c>/api/search</c>).</summary>
    public static TheoryData<string, string> HostileApiKeys()
    {
        var data = new TheoryData<string, string>();
        foreach (var path in new[] { "/api/hello", "/api/search" })
        {
            foreach (var apiKey in new[] { "{tag}", "}{", "a}b{c", new string('k', 8 * 1024), "ключ-日本語-\U0001F600", "rl:{per-client:x}:e" })
            {
                data.Add(path, apiKey);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(HostileApiKeys))]
    public async Task Request_HostileApiKey_NeverServerErrorAndNeverEchoed(string path, string apiKey)
    {
        await using var app = new SampleApp(_cluster, new() { [PermitLimit] = "1", ["RateLimiting:Policies:tiered:Limits:0:PermitLimit"] = "1" });
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("X-Api-Key", apiKey);

        using var admitted = await client.GetAsync(path);
        using var rejected = await client.GetAsync(path);
        var body = await rejected.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.DoesNotContain(apiKey, body, StringComparison.Ordinal);
        Assert.DoesNotContain(rejected.Headers.SelectMany(h => h.Value), value => value.Contains(apiKey, StringComparison.Ordinal));
    }
}
