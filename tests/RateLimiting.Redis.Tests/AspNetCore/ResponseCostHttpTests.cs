using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using RateLimiting.AspNetCore;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>
/// Costs decided by the response over real HTTP on the test cluster: the sample's failed logins
/// (<c>POST /api/login</c>, <c>CountWhen</c> 401) and cost added through <see cref="IRateLimitCostFeature"/>.
/// Charges land after the response, so the tests poll Redis for them.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCostHttpTests
{
    private const string Login = "RateLimiting:Policies:login";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private readonly RedisClusterFixture _cluster;
    private readonly ITestOutputHelper _output;

    public ResponseCostHttpTests(RedisClusterFixture cluster, ITestOutputHelper output) => (_cluster, _output) = (cluster, output);

    [Fact]
    public async Task Login_SuccessesCostNothingFailuresCount_TheNextAttemptIsRejectedOnceTheyAreCharged()
    {
        var prefix = SampleApp.NewKeyPrefix();
        await using var app = new SampleApp(_cluster, new() { [$"{Login}:PermitLimit"] = "3" }, keyPrefix: prefix);
        using var client = app.CreateClient();

        var successes = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var success = await client.PostAsJsonAsync("/api/login", new { user = "ann", password = "demo" });
            successes.Add(success.StatusCode);
        }

        var usedAfterSuccesses = await UsedAsync(prefix, "login");
        var failures = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var failure = await client.PostAsJsonAsync("/api/login", new { user = "ann", password = "guess" });
            failures.Add(failure.StatusCode);
        }

        await Poll.UntilAsync(() => UsedAsync(prefix, "login"), used => used == 3, Generous);
        using var rejected = await client.PostAsJsonAsync("/api/login", new { user = "ann", password = "demo" });

        Assert.All(successes, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(0, usedAfterSuccesses);
        Assert.All(failures, status => Assert.Equal(HttpStatusCode.Unauthorized, status));
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal("900", SampleApp.Header(rejected, "Retry-After"));
    }

    [Fact]
    public async Task Login_ConcurrentFailures_OvershootBoundedByTheRequestsInFlightAndEveryChargeRecorded()
    {
        const int Limit = 3;
        const int InFlight = 16;
        var prefix = SampleApp.NewKeyPrefix();
        await using var app = new SampleApp(_cluster, new() { [$"{Login}:PermitLimit"] = Limit.ToString(CultureInfo.InvariantCulture) }, keyPrefix: prefix);
        using var client = app.CreateClient();

        var statuses = await Task.WhenAll(Enumerable.Range(0, InFlight).Select(async _ =>
        {
            using var response = await client.PostAsJsonAsync("/api/login", new { user = "bob", password = "guess" });
            return response.StatusCode;
        }));
        var failed = statuses.Count(s => s == HttpStatusCode.Unauthorized);
        var used = await Poll.UntilAsync(() => UsedAsync(prefix, "login"), used => used == failed, Generous);
        using var after = await client.PostAsJsonAsync("/api/login", new { user = "bob", password = "demo" });

        _output.WriteLine(ScenarioFigures.Line("count_when", ("limit", Limit), ("in_flight", InFlight), ("failures_admitted", failed), ("overshoot", failed - Limit), ("charged", used)));
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, s.ToString()));
        Assert.InRange(failed, Limit, Limit + InFlight - 1);
        Assert.Equal(HttpStatusCode.TooManyRequests, after.StatusCode);
    }

    [Fact]
    public async Task CostFeature_EndpointAddsCost_ChargedAfterTheResponseAndSeenByTheNextRequest()
    {
        var prefix = SampleApp.NewKeyPrefix();
        var settings = TestApp.Policy("tokens", 10, "Header:X-Api-Key");
        settings["RateLimiting:Redis:KeyPrefix"] = prefix;
        await using var app = await TestApp.StartAsync(_cluster, settings, a => a.MapGet("/complete", (HttpContext context) =>
        {
            context.Features.Get<IRateLimitCostFeature>()!.AddCost(7);
            return Results.Ok();
        }).RequireRateLimiting("tokens"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/complete") { Headers = { { "X-Api-Key", "llm-user" } } };
        using var first = await app.GetTestClient().SendAsync(request);

        var used = await Poll.UntilAsync(() => UsedAsync(prefix, "tokens", "HEADER:X-Api-Key=llm-user"), used => used == 8, Generous);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/complete") { Headers = { { "X-Api-Key", "llm-user" } } };
        using var second = await app.GetTestClient().SendAsync(again);

        Assert.StartsWith("\"tokens\";r=9;", SampleApp.Header(first, "RateLimit"), StringComparison.Ordinal);
        Assert.Equal(8, used);
        Assert.StartsWith("\"tokens\";r=1;", SampleApp.Header(second, "RateLimit"), StringComparison.Ordinal);
    }

    /// <summary>The cost Redis counts in a partition's window (its totals' <c>u</c>), 0 when it has none.</summary>
    private async Task<long> UsedAsync(string prefix, string policy, string partition = "none")
    {
        var (_, totals) = new RedisKeyLayout(prefix).For(policy, partition);
        var used = await _cluster.Multiplexer.GetDatabase().HashGetAsync(totals, "u");
        return used.IsNull ? 0 : (long)used;
    }
}
