using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;
using RateLimiting.Admin;
using RateLimiting.Redis.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>
/// <see cref="IRateLimitAdmin"/> on the sample and the test cluster: usage as the headers report
/// it, resets seen by a second instance of the application (whose over-limit cache remembered the
/// rejection), and partition values no request could send.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RateLimitAdminTests
{
    private const string PerClient = "RateLimiting:Policies:per-client";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private readonly RedisClusterFixture _cluster;
    private readonly ITestOutputHelper _output;

    public RateLimitAdminTests(RedisClusterFixture cluster, ITestOutputHelper output) => (_cluster, _output) = (cluster, output);

    [Fact]
    public async Task GetUsage_AfterRequests_EqualsWhatTheHeadersReportAndChangesNothing()
    {
        var clock = new FakeClock(Instant.FromUtc(2026, 12, 3, 9, 0));
        await using var app = new SampleApp(_cluster, new() { [$"{PerClient}:PermitLimit"] = "5" }, clock: clock);
        using var client = app.ClientWithKey("reader");
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();

        for (var i = 0; i < 2; i++)
        {
            (await client.GetAsync("/api/hello")).Dispose();
        }

        clock.Advance(Duration.FromMinutes(10));
        using var third = await client.GetAsync("/api/hello");
        var usage = await admin.GetUsageAsync("per-client", "reader");
        var again = await admin.GetUsageAsync("per-client", "reader");
        using var fourth = await client.GetAsync("/api/hello");

        Assert.Equal("\"per-client\";r=2;t=3000", SampleApp.Header(third, "RateLimit"));
        Assert.Equal((0, 5, 3, 2, TimeSpan.FromMinutes(50), TimeSpan.Zero), (usage.WindowIndex, usage.Limit, usage.Used, usage.Remaining, usage.ResetAfter, usage.BlockedFor));
        Assert.Equal((usage.Used, usage.ResetAfter), (again.Used, again.ResetAfter));
        Assert.Equal("\"per-client\";r=1;t=3000", SampleApp.Header(fourth, "RateLimit"));
    }

    [Fact]
    public async Task GetUsage_SeveralWindows_ReportsTheOneWithTheLeastRemainingAsTheHeadersDo()
    {
        var clock = new FakeClock(Instant.FromUtc(2026, 12, 3, 9, 0));
        await using var app = new SampleApp(_cluster, new() { ["RateLimiting:Policies:tiered:Limits:1:PermitLimit"] = "12" }, clock: clock);
        using var client = app.ClientWithKey("searcher");
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();

        var headers = new List<string?>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await client.GetAsync("/api/search");
            headers.Add(SampleApp.Header(response, "RateLimit"));
        }

        var burst = await admin.GetUsageAsync("tiered", "searcher");
        clock.Advance(Duration.FromSeconds(2));
        var hourly = await admin.GetUsageAsync("tiered", "searcher");

        Assert.Equal("\"tiered-1s\";r=0;t=1", headers[^1]);
        Assert.Equal((0, 10, 10, 0), (burst.WindowIndex, burst.Limit, burst.Used, burst.Remaining));
        Assert.Equal((1, 12, 10, 2), (hourly.WindowIndex, hourly.Limit, hourly.Used, hourly.Remaining));
        Assert.Equal(TimeSpan.FromSeconds(3598), hourly.ResetAfter);
    }

    [Fact]
    public async Task Reset_RejectedPartition_AdmittedAtOnceOnASecondInstanceThatHadCachedTheRejection()
    {
        var prefix = SampleApp.NewKeyPrefix();
        var settings = new Dictionary<string, string?> { [$"{PerClient}:PermitLimit"] = "3" };
        await using var first = new SampleApp(_cluster, settings, keyPrefix: prefix);
        await using var second = new SampleApp(_cluster, settings, keyPrefix: prefix);
        using var client = second.ClientWithKey("locked-out");
        for (var i = 0; i < 3; i++)
        {
            (await client.GetAsync("/api/hello")).Dispose();
        }

        using var rejected = await client.GetAsync("/api/hello");
        using var cached = await client.GetAsync("/api/hello");
        var admin = first.Services.GetRequiredService<IRateLimitAdmin>();

        var cleared = await admin.ResetAsync("per-client", "locked-out");
        var resetAt = Stopwatch.GetTimestamp();
        var admitted = await Poll.UntilAsync(
            async () =>
            {
                using var response = await client.GetAsync("/api/hello");
                return (response.StatusCode, Header: SampleApp.Header(response, "RateLimit"));
            },
            response => response.StatusCode == HttpStatusCode.OK,
            Generous);
        _output.WriteLine(ScenarioFigures.Line("reset_seen_by_second_instance", ("ms", Stopwatch.GetElapsedTime(resetAt).TotalMilliseconds)));
        var usage = await admin.GetUsageAsync("per-client", "locked-out");
        var clearedAgain = await admin.ResetAsync("per-client", "locked-out-never-seen");

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, cached.StatusCode);
        Assert.True(cleared);
        Assert.Equal("\"per-client\";r=2;t=3600", admitted.Header);
        Assert.Equal(1, usage.Used);
        Assert.False(clearedAgain);
    }

    [Fact]
    public async Task Reset_BlockedPartition_LiftsTheBlock()
    {
        var prefix = SampleApp.NewKeyPrefix();
        var settings = TestApp.Policy("limited", 1, "Header:X-Api-Key");
        settings["RateLimiting:Redis:KeyPrefix"] = prefix;
        settings["RateLimiting:Policies:limited:Block:AfterRejections"] = "2";
        settings["RateLimiting:Policies:limited:Block:Within"] = "00:10:00";
        settings["RateLimiting:Policies:limited:Block:For"] = "02:00:00";
        await using var app = await TestApp.StartAsync(_cluster, settings, a => a.MapGet("/limited", () => Results.Ok()).RequireRateLimiting("limited"));
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add(await SendAsync(app, "abuser"));
        }

        var blocked = await admin.GetUsageAsync("limited", "abuser");
        await admin.ResetAsync("limited", "abuser");
        var afterReset = await SendAsync(app, "abuser");
        var usage = await admin.GetUsageAsync("limited", "abuser");

        Assert.Equal([HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 3)], statuses);
        Assert.InRange(blocked.BlockedFor, TimeSpan.FromMinutes(119), TimeSpan.FromHours(2));
        Assert.Equal(HttpStatusCode.OK, afterReset);
        Assert.Equal((1, TimeSpan.Zero), (usage.Used, usage.BlockedFor));
    }

    [Fact]
    public async Task AdminCalls_HostilePartitionValues_NameThePartitionRequestsUse()
    {
        await using var app = new SampleApp(_cluster, new() { [$"{PerClient}:PermitLimit"] = "5" });
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();
        string[] sendable = ["{tag}}:x", "a/b%2F..\\c", "*", " padded ", new string('k', 200), "HEADER:X-Api-Key=nested"];
        foreach (var value in sendable)
        {
            using var client = app.ClientWithKey(value);
            using var response = await client.GetAsync("/api/hello");
            var usage = await admin.GetUsageAsync("per-client", value);
            Assert.True(response.StatusCode == HttpStatusCode.OK, value);
            Assert.True(usage.Used == 1, value);
            Assert.True(await admin.ResetAsync("per-client", value), value);
        }

        string[] unsendable = [string.Empty, "line\nbreak", "\ud800", "{", new string('\0', 3)];
        foreach (var value in unsendable)
        {
            var usage = await admin.GetUsageAsync("per-client", value);
            Assert.True(usage.Used == 0 && usage.Remaining == 5, value);
            Assert.False(await admin.ResetAsync("per-client", value), value);
        }
    }

    [Fact]
    public async Task AdminCalls_UnknownPolicyChainOrMissingFallback_ThrowNamingThePolicy()
    {
        await using var app = new SampleApp(_cluster);
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();

        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => admin.GetUsageAsync("no-such-policy", "k").AsTask());
        var chain = await Assert.ThrowsAsync<ArgumentException>(() => admin.ResetAsync("per-client-then-global", "k").AsTask());
        var fallback = await Assert.ThrowsAsync<ArgumentException>(() => admin.GetUsageAsync("global", "k", fallback: true).AsTask());

        Assert.Contains("'no-such-policy'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("'per-client-then-global' is a chain", chain.Message, StringComparison.Ordinal);
        Assert.Contains("'global' has no FallbackPartitionBy", fallback.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetUsage_FallbackSource_NamesThePartitionOfRequestsWithoutTheHeader()
    {
        var settings = TestApp.Policy("limited", 5, "Header:X-Api-Key", fallback: "ClientIp");
        await using var app = await TestApp.StartAsync(_cluster, settings, a => a.MapGet("/limited", () => Results.Ok()).RequireRateLimiting("limited"));
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/limited") { Headers = { { "X-Test-Ip", "192.0.2.7" } } };
        (await app.GetTestClient().SendAsync(request)).Dispose();

        var byIp = await admin.GetUsageAsync("limited", "192.0.2.7", fallback: true);
        var byKey = await admin.GetUsageAsync("limited", "192.0.2.7");

        Assert.Equal(1, byIp.Used);
        Assert.Equal(0, byKey.Used);
    }

    private static async Task<HttpStatusCode> SendAsync(WebApplication app, string apiKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/limited") { Headers = { { "X-Api-Key", apiKey } } };
        using var response = await app.GetTestClient().SendAsync(request);
        return response.StatusCode;
    }
}
