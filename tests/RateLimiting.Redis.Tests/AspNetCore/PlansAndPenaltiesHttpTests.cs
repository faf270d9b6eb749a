using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>Plans, exemptions, denials and penalty blocks over real HTTP on the test cluster: the sample's <c>pro</c> plan, a policy of every kind of override, and one that blocks.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class PlansAndPenaltiesHttpTests
{
    private const string PerClient = "RateLimiting:Policies:per-client";
    private const string Limited = "RateLimiting:Policies:limited";

    private readonly RedisClusterFixture _cluster;

    public PlansAndPenaltiesHttpTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Hello_ClientUpgradedToProMidWindow_KeepsWhatItUsedAndGainsTheNewHeadroom()
    {
        await using var app = new SampleApp(_cluster, new() { [$"{PerClient}:PermitLimit"] = "3", [$"{PerClient}:Overrides:0:PermitLimit"] = "5" });
        using var client = app.ClientWithKey("upgrader");

        var basic = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            basic.Add(await client.GetAsync("/api/hello"));
        }

        client.DefaultRequestHeaders.Add("X-Plan", "pro");
        var pro = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            pro.Add(await client.GetAsync("/api/hello"));
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], basic.Select(r => r.StatusCode));
        Assert.All(basic, r => Assert.Equal("\"per-client\";q=3;w=3600", SampleApp.Header(r, "RateLimit-Policy")));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], pro.Select(r => r.StatusCode));
        Assert.All(pro, r => Assert.Equal("\"per-client\";q=5;w=3600", SampleApp.Header(r, "RateLimit-Policy")));
        Assert.StartsWith("\"per-client\";r=1;", SampleApp.Header(pro[0], "RateLimit"), StringComparison.Ordinal);
        Assert.StartsWith("\"per-client\";r=0;", SampleApp.Header(pro[1], "RateLimit"), StringComparison.Ordinal);
        basic.Concat(pro).ToList().ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task Hello_ProPlanReloaded_TheNewLimitAppliesToTheNextRequest()
    {
        await using var app = new SampleApp(_cluster);
        using var client = app.ClientWithKey("reloaded-plan");
        client.DefaultRequestHeaders.Add("X-Plan", "pro");

        using var before = await client.GetAsync("/api/hello");
        app.Reloadable.Set(new Dictionary<string, string?> { [$"{PerClient}:Overrides:0:PermitLimit"] = "2" });
        using var after = await client.GetAsync("/api/hello");
        using var full = await client.GetAsync("/api/hello");
        app.Reloadable.Set(new Dictionary<string, string?> { [$"{PerClient}:Overrides:0:When"] = "ClientIp=10.0.0.1/8" });
        using var afterInvalidReload = await client.GetAsync("/api/hello");

        Assert.Equal("\"per-client\";q=1000;w=3600", SampleApp.Header(before, "RateLimit-Policy"));
        Assert.Equal("\"per-client\";q=2;w=3600", SampleApp.Header(after, "RateLimit-Policy"));
        Assert.StartsWith("\"per-client\";r=0;", SampleApp.Header(after, "RateLimit"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TooManyRequests, full.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, afterInvalidReload.StatusCode);
        Assert.Equal("\"per-client\";q=2;w=3600", SampleApp.Header(afterInvalidReload, "RateLimit-Policy"));
    }

    [Fact]
    public async Task Limited_ExemptByIpRangeOrHeader_NoStoreCallAndNoHeaders()
    {
        var (app, store) = await StartAsync();
        await using (app)
        {
            var exempt = new List<HttpResponseMessage>();
            for (var i = 0; i < 3; i++)
            {
                exempt.Add(await SendAsync(app, ("X-Api-Key", "office"), ("X-Test-Ip", "10.1.2.3")));
                exempt.Add(await SendAsync(app, ("X-Api-Key", "office"), ("X-Test-Ip", "2001:db8::7")));
                exempt.Add(await SendAsync(app, ("X-Api-Key", "office"), ("X-Internal", "yes")));
            }

            var callsWhileExempt = store.Calls;
            using var counted = await SendAsync(app, ("X-Api-Key", "office"), ("X-Test-Ip", "192.0.2.1"));
            using var rejected = await SendAsync(app, ("X-Api-Key", "office"), ("X-Test-Ip", "192.0.2.1"));

            Assert.All(exempt, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            Assert.All(exempt, r => Assert.False(r.Headers.Contains("RateLimit") || r.Headers.Contains("RateLimit-Policy")));
            Assert.Equal(0, callsWhileExempt);
            Assert.Equal(HttpStatusCode.OK, counted.StatusCode);
            Assert.Equal("\"limited\";q=1;w=3600", SampleApp.Header(counted, "RateLimit-Policy"));
            Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
            Assert.Equal(2, store.Calls);
            exempt.ForEach(r => r.Dispose());
        }
    }

    [Fact]
    public async Task Limited_DeniedKey_ForbiddenAsProblemJsonWithoutAStoreCall()
    {
        var (app, store) = await StartAsync();
        await using (app)
        {
            using var denied = await SendAsync(app, ("X-Api-Key", "blocked-key"));
            using var other = await SendAsync(app, ("X-Api-Key", "blocked-key-2"));

            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            Assert.Equal("application/problem+json", denied.Content.Headers.ContentType?.MediaType);
            using var body = JsonDocument.Parse(await denied.Content.ReadAsStringAsync());
            Assert.Equal("denied", body.RootElement.GetProperty("reason").GetString());
            Assert.Equal("limited", body.RootElement.GetProperty("policy").GetString());
            Assert.DoesNotContain("blocked-key", await denied.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.False(denied.Headers.Contains("RateLimit"));
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
            Assert.Equal(1, store.Calls);
        }
    }

    [Fact]
    public async Task Limited_HostilePlanAndKeyValues_DecidedAsAnyOtherRequest()
    {
        var (app, store) = await StartAsync();
        await using (app)
        {
            var hostile = new string('x', 10_000) + "\u00e9{}*?[]\\\"";
            using var first = await SendAsync(app, ("X-Api-Key", hostile), ("X-Internal", hostile));
            using var second = await SendAsync(app, ("X-Api-Key", hostile), ("X-Internal", "yes " + hostile));

            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
            Assert.Equal(2, store.Calls);
        }
    }

    [Fact]
    public async Task Limited_ThirdRejection_BlocksWithRetryAfterAndTheOverLimitCacheServesTheBlock()
    {
        var settings = TestApp.Policy("limited", 1, "Header:X-Api-Key");
        settings[$"{Limited}:Block:AfterRejections"] = "3";
        settings[$"{Limited}:Block:Within"] = "00:10:00";
        settings[$"{Limited}:Block:For"] = "02:00:00";
        var (app, store) = await StartAsync(settings);
        await using (app)
        {
            var responses = new List<HttpResponseMessage>();
            for (var i = 0; i < 6; i++)
            {
                responses.Add(await SendAsync(app, ("X-Api-Key", "abuser")));
            }

            using var other = await SendAsync(app, ("X-Api-Key", "polite"));

            Assert.Equal([HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 5)], responses.Select(r => r.StatusCode));
            var reasons = new List<string?>();
            foreach (var rejected in responses.Skip(1))
            {
                using var body = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync());
                reasons.Add(body.RootElement.GetProperty("reason").GetString());
            }

            Assert.Equal(["quota_exceeded", "quota_exceeded", "blocked", "blocked", "blocked"], reasons);
            // The block's two hours, not the window's one.
            Assert.Equal("7200", SampleApp.Header(responses[3], "Retry-After"));
            Assert.All(responses.Skip(4), r => Assert.InRange(int.Parse(SampleApp.Header(r, "Retry-After")!, System.Globalization.CultureInfo.InvariantCulture), 3601, 7200));
            Assert.StartsWith("\"limited\";r=0;", SampleApp.Header(responses[5], "RateLimit"), StringComparison.Ordinal);
            // One call per request until the block, which this instance then serves itself.
            Assert.Equal(5, store.Calls);
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
            responses.ForEach(r => r.Dispose());
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(WebApplication app, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/limited");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await app.GetTestClient().SendAsync(request);
    }

    /// <summary>Policy <c>limited</c> (1 per hour per key) exempting 10.0.0.0/8, 2001:db8::/32 and <c>X-Internal: yes</c>, and denying <c>blocked-key</c>; its store calls counted.</summary>
    private Task<(WebApplication App, CountingStore Store)> StartAsync()
    {
        var settings = TestApp.Policy("limited", 1, "Header:X-Api-Key");
        settings[$"{Limited}:Overrides:0:When"] = "ClientIp=10.0.0.0/8";
        settings[$"{Limited}:Overrides:0:Exempt"] = "true";
        settings[$"{Limited}:Overrides:1:When"] = "ClientIp=2001:db8::/32";
        settings[$"{Limited}:Overrides:1:Exempt"] = "true";
        settings[$"{Limited}:Overrides:2:When"] = "Header:X-Internal=yes";
        settings[$"{Limited}:Overrides:2:Exempt"] = "true";
        settings[$"{Limited}:Overrides:3:When"] = "Header:X-Api-Key=blocked-key";
        settings[$"{Limited}:Overrides:3:Deny"] = "true";
        return StartAsync(settings);
    }

    /// <summary>An application of <paramref name="settings"/> mapping <c>/limited</c> to policy <c>limited</c>, its store calls counted.</summary>
    private async Task<(WebApplication App, CountingStore Store)> StartAsync(Dictionary<string, string?> settings)
    {
        CountingStore? counting = null;
        var app = await TestApp.StartAsync(
            _cluster,
            settings,
            map: a => a.MapGet("/limited", () => Results.Ok()).RequireRateLimiting("limited"),
            configureServices: services => services.AddSingleton<IRateLimitStore>(sp => counting = new CountingStore(sp.GetRequiredService<RedisRateLimitStore>())));
        // Resolved at start-up, with the policies' deciders.
        return (app, counting ?? throw new InvalidOperationException("The store was not resolved at start-up."));
    }
}
