using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Admin;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>The sample's admin API (<c>/admin/rate-limits</c>, behind its demo key) over real HTTP (Kestrel on 127.0.0.1) on the test cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class AdminHttpTests
{
    private const string AdminKey = "test-admin-key-7f3a";
    private const string Hostile = "a/b%2Fc {x}?#&=+..";

    private readonly RedisClusterFixture _cluster;

    public AdminHttpTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Unauthorized_EveryOperationRefused_AndNothingChanges()
    {
        await using var app = NewApp();
        using var client = app.ClientWithKey("victim");
        for (var i = 0; i < 3; i++)
        {
            (await client.GetAsync("/api/hello")).Dispose();
        }

        using var anonymous = app.CreateClient();
        using var intruder = app.CreateClient();
        intruder.DefaultRequestHeaders.Add("X-Admin-Key", "guess");
        var statuses = new List<HttpStatusCode>();
        foreach (var caller in new[] { anonymous, intruder })
        {
            statuses.Add(await StatusAsync(caller.GetAsync("/admin/rate-limits/per-client/victim")));
            statuses.Add(await StatusAsync(caller.DeleteAsync("/admin/rate-limits/per-client/victim")));
            statuses.Add(await StatusAsync(caller.PutAsJsonAsync("/admin/rate-limits/per-client/victim/override", new { permitLimit = 100, duration = "01:00:00" })));
            statuses.Add(await StatusAsync(caller.DeleteAsync("/admin/rate-limits/per-client/victim/override")));
        }

        var usage = await app.Services.GetRequiredService<IRateLimitAdmin>().GetUsageAsync("per-client", "victim");
        using var still = await client.GetAsync("/api/hello");

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.Unauthorized, status));
        Assert.Equal((2, (int?)null), (usage.Used, usage.TemporaryLimit));
        Assert.Equal(HttpStatusCode.TooManyRequests, still.StatusCode);
    }

    [Fact]
    public async Task Authorized_UsageOverrideAndReset_OfAPartitionValueWithSlashesAndPercents()
    {
        await using var app = NewApp();
        using var client = app.ClientWithKey(Hostile);
        using var admin = app.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        var path = "/admin/rate-limits/per-client/" + Uri.EscapeDataString(Hostile);
        for (var i = 0; i < 2; i++)
        {
            (await client.GetAsync("/api/hello")).Dispose();
        }

        var used = await JsonAsync(admin.GetAsync(path));
        var set = await StatusAsync(admin.PutAsJsonAsync(path + "/override", new { permitLimit = 10, duration = "00:10:00" }));
        var raised = await JsonAsync(admin.GetAsync(path));
        using var admitted = await client.GetAsync("/api/hello");
        var clearedOverride = await JsonAsync(admin.DeleteAsync(path + "/override"));
        var reset = await JsonAsync(admin.DeleteAsync(path));
        var after = await JsonAsync(admin.GetAsync(path));

        Assert.Equal((2, 0, 2), (used.GetProperty("used").GetInt32(), used.GetProperty("remaining").GetInt32(), used.GetProperty("limit").GetInt32()));
        Assert.Equal(HttpStatusCode.NoContent, set);
        Assert.Equal((10, 10), (raised.GetProperty("limit").GetInt32(), raised.GetProperty("temporaryLimit").GetInt32()));
        Assert.InRange(raised.GetProperty("temporaryLimitExpiresAfterSeconds").GetDouble(), 540, 600);
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.True(clearedOverride.GetProperty("cleared").GetBoolean());
        Assert.True(reset.GetProperty("cleared").GetBoolean());
        Assert.Equal(0, after.GetProperty("used").GetInt32());
    }

    [Fact]
    public async Task Authorized_UnknownPolicyOrOutOfRangeLimit_ProblemDetails()
    {
        await using var app = NewApp();
        using var admin = app.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);

        using var unknown = await admin.GetAsync("/admin/rate-limits/no-such-policy/k");
        using var zero = await admin.PutAsJsonAsync("/admin/rate-limits/per-client/k/override", new { permitLimit = 0, duration = "00:10:00" });

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("'no-such-policy'", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, zero.StatusCode);
    }

    [Fact]
    public async Task MapRateLimitAdmin_WithoutAKnownAuthorizationPolicy_RefusesToMap()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddRedisSlidingWindowLimiter(options => options.Redis.Configuration = _cluster.ConfigurationString);
        await using var withoutAuthorization = builder.Build();
        var authorizing = WebApplication.CreateBuilder();
        authorizing.Services.AddRedisSlidingWindowLimiter(options => options.Redis.Configuration = _cluster.ConfigurationString);
        authorizing.Services.AddAuthorization();
        await using var withAuthorization = authorizing.Build();

        var empty = Assert.Throws<ArgumentException>(() => withAuthorization.MapRateLimitAdmin("/admin", " "));
        var noAuthorization = Assert.Throws<InvalidOperationException>(() => withoutAuthorization.MapRateLimitAdmin("/admin", "operators"));
        var unknown = Assert.Throws<InvalidOperationException>(() => withAuthorization.MapRateLimitAdmin("/admin", "operators"));

        Assert.Equal("authorizationPolicy", empty.ParamName);
        Assert.Contains("AddAuthorization", noAuthorization.Message, StringComparison.Ordinal);
        Assert.Contains("'operators'", unknown.Message, StringComparison.Ordinal);
    }

    private SampleApp NewApp() => SampleApp.OnKestrel(_cluster, new() { ["Admin:Key"] = AdminKey, ["RateLimiting:Policies:per-client:PermitLimit"] = "2" });

    private static async Task<HttpStatusCode> StatusAsync(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        return response.StatusCode;
    }

    private static async Task<JsonElement> JsonAsync(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
