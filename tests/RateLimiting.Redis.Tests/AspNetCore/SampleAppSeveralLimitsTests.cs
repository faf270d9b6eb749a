using System.Net;
using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>
/// The sample's policy of two windows (<c>tiered</c>, on <c>GET /api/search</c>) and its chain of
/// a per-client quota and a global cap (<c>per-client-then-global</c>, on <c>GET /api/catalog</c>
/// and the catalog controller), over real HTTP on the test cluster.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class SampleAppSeveralLimitsTests
{
    private const string Tiered = "RateLimiting:Policies:tiered";
    private const string PerClientLimit = "RateLimiting:Policies:per-client:PermitLimit";
    private const string GlobalLimit = "RateLimiting:Policies:global:PermitLimit";

    // The fake clock stands still unless a test moves it, and the over-limit cache counts real time.
    private static readonly Dictionary<string, string?> NoOverLimitCache = new() { ["RateLimiting:OverLimitCache"] = "false" };

    private readonly RedisClusterFixture _cluster;

    public SampleAppSeveralLimitsTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Search_ShortWindowFull_RejectedUntilItRefillsWhileTheHourHolds()
    {
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        // Keys as environment variables give them: RateLimiting__Policies__tiered__Limits__0__PermitLimit.
        await using var app = new SampleApp(_cluster, Settings(new() { [$"{Tiered}:Limits:0:PermitLimit"] = "3", [$"{Tiered}:Limits:1:PermitLimit"] = "5" }), clock: clock);
        using var client = app.ClientWithKey("searcher");

        var firstSecond = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            firstSecond.Add(await client.GetAsync("/api/search?q=books"));
        }

        clock.Advance(Duration.FromSeconds(1));
        using var secondSecondFirst = await client.GetAsync("/api/search?q=books");
        using var secondSecondSecond = await client.GetAsync("/api/search?q=books");
        using var hourFull = await client.GetAsync("/api/search?q=books");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], firstSecond.Select(r => r.StatusCode));
        Assert.All(firstSecond, r => Assert.Equal("\"tiered-1s\";q=3;w=1, \"tiered-1h\";q=5;w=3600", SampleApp.Header(r, "RateLimit-Policy")));
        Assert.Equal(["\"tiered-1s\";r=2;t=1", "\"tiered-1s\";r=1;t=1", "\"tiered-1s\";r=0;t=1", "\"tiered-1s\";r=0;t=1"], firstSecond.Select(r => SampleApp.Header(r, "RateLimit")));
        Assert.Equal("1", SampleApp.Header(firstSecond[3], "Retry-After"));
        Assert.Equal(HttpStatusCode.OK, secondSecondFirst.StatusCode);
        Assert.Equal("\"tiered-1h\";r=0;t=3599", SampleApp.Header(secondSecondSecond, "RateLimit"));
        Assert.Equal(HttpStatusCode.TooManyRequests, hourFull.StatusCode);
        Assert.Equal("3599", SampleApp.Header(hourFull, "Retry-After"));
        Assert.Equal("\"tiered-1h\";r=0;t=3599", SampleApp.Header(hourFull, "RateLimit"));
        firstSecond.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task Search_ShortWindowRejectsWithTheOverLimitCacheOn_AdmittedAgainOnceTheShortWindowRefills()
    {
        // Real time: the over-limit cache must hold the rejection for the second, not for the hour.
        await using var app = new SampleApp(_cluster, new() { [$"{Tiered}:Limits:0:PermitLimit"] = "2" });
        using var client = app.ClientWithKey("cached");
        await client.GetAsync("/api/search");
        await client.GetAsync("/api/search");

        var rejectedRetryAfters = new List<string?>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        HttpStatusCode status;
        do
        {
            using var response = await client.GetAsync("/api/search");
            status = response.StatusCode;
            if (status == HttpStatusCode.TooManyRequests)
            {
                rejectedRetryAfters.Add(SampleApp.Header(response, "Retry-After"));
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
        }
        while (status == HttpStatusCode.TooManyRequests && DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotEmpty(rejectedRetryAfters);
        Assert.All(rejectedRetryAfters, retryAfter => Assert.Equal("1", retryAfter));
    }

    [Fact]
    public async Task Catalog_GlobalCapRejects_TheClientsAdmissionIsRefunded()
    {
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        await using var app = new SampleApp(_cluster, Settings(new() { [PerClientLimit] = "5", [GlobalLimit] = "3" }), clock: clock);
        using var client = app.ClientWithKey("refunded");

        var admitted = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            admitted.Add(await client.GetAsync("/api/catalog"));
        }

        using var capped = await client.GetAsync("/api/catalog");
        using var cappedAgain = await client.GetAsync("/api/catalog/items/book");
        app.Reloadable.Set(new Dictionary<string, string?> { [GlobalLimit] = "100" });
        var afterTheCapIsRaised = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            afterTheCapIsRaised.Add((await client.GetAsync("/api/catalog")).StatusCode);
        }

        Assert.All(admitted, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal("\"per-client\";q=5;w=3600, \"global\";q=3;w=60", SampleApp.Header(admitted[0], "RateLimit-Policy"));
        Assert.Equal("\"per-client\";r=4;t=3600, \"global\";r=2;t=60", SampleApp.Header(admitted[0], "RateLimit"));
        Assert.Equal(HttpStatusCode.TooManyRequests, capped.StatusCode);
        Assert.Equal("60", SampleApp.Header(capped, "Retry-After"));
        Assert.Equal("\"per-client\";r=2;t=3600, \"global\";r=0;t=60", SampleApp.Header(capped, "RateLimit"));
        using (var problem = System.Text.Json.JsonDocument.Parse(await capped.Content.ReadAsStringAsync()))
        {
            Assert.Equal("global", problem.RootElement.GetProperty("policy").GetString());
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, cappedAgain.StatusCode);
        // The two capped requests cost the client nothing: two of its five are left, then it is limited.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], afterTheCapIsRaised);
        admitted.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task Catalog_ManyClientsAtOnce_NeitherPolicyOverAdmitsAndNoRefundIsLost()
    {
        const int PerClient = 20;
        const int Global = 50;
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        await using var app = new SampleApp(_cluster, Settings(new() { [PerClientLimit] = $"{PerClient}", [GlobalLimit] = $"{Global}" }), clock: clock);
        var clients = Enumerable.Range(0, 8).Select(i => app.ClientWithKey($"crowd-{i}")).ToArray();

        var admittedPerClient = await Task.WhenAll(clients.Select(async client =>
        {
            var statuses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                var admitted = 0;
                for (var i = 0; i < 5; i++)
                {
                    using var response = await client.GetAsync(i % 2 == 0 ? "/api/catalog" : "/api/catalog/items/book");
                    Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{response.StatusCode}");
                    admitted += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
                }

                return admitted;
            }));
            return statuses.Sum();
        }));

        // With the cap out of the way, each client has exactly what it was not admitted for left.
        app.Reloadable.Set(new Dictionary<string, string?> { [GlobalLimit] = "100000" });
        var leftPerClient = await Task.WhenAll(clients.Select(async client =>
        {
            var left = 0;
            while ((await client.GetAsync("/api/catalog")).StatusCode == HttpStatusCode.OK)
            {
                left++;
                Assert.InRange(left, 0, PerClient);
            }

            return left;
        }));

        Assert.Equal(Global, admittedPerClient.Sum());
        Assert.All(admittedPerClient, admitted => Assert.InRange(admitted, 0, PerClient));
        Assert.All(Enumerable.Range(0, clients.Length), i => Assert.Equal(PerClient, admittedPerClient[i] + leftPerClient[i]));
        Array.ForEach(clients, client => client.Dispose());
    }

    private static Dictionary<string, string?> Settings(Dictionary<string, string?> settings)
    {
        foreach (var (key, value) in NoOverLimitCache)
        {
            settings[key] = value;
        }

        return settings;
    }
}
