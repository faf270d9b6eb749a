using Microsoft.AspNetCore.Builder;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>
/// Start-up validation through a real host's <c>StartAsync</c>. Not through the sample's
/// WebApplicationFactory: when the sample's own <c>Run</c> fails first it disposes the host, and
/// the factory then reports an ObjectDisposedException instead of the validation error.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class StartupValidationTests
{
    private const string Policy = "RateLimiting:Policies:per-client";
    private const string Tiered = "RateLimiting:Policies:tiered";
    private const string Chain = "RateLimiting:Policies:per-client-then-global";
    private readonly RedisClusterFixture _cluster;

    public StartupValidationTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Theory]
    [InlineData(Policy + ":PermitLimit", "0", Policy + ":PermitLimit")]
    [InlineData(Policy + ":PermitLimit", "-5", Policy + ":PermitLimit")]
    [InlineData(Policy + ":PermitLimit", "many", Policy + ":PermitLimit")]
    [InlineData(Policy + ":Window", "00:00:00", Policy + ":Window")]
    [InlineData(Policy + ":Window", "-01:00:00", Policy + ":Window")]
    [InlineData(Policy + ":PermitLimt", "5", Policy + ":PermitLimt")]
    [InlineData(Policy + ":PartitionBy", "Cookie:session", Policy + ":PartitionBy")]
    [InlineData(Policy + ":PartitionBy", "Custom", Policy + ":PartitionBy")]
    [InlineData(Policy + ":FallbackPartitionBy", "Header", Policy + ":FallbackPartitionBy")]
    [InlineData(Policy + ":FailureMode", "FailSometimes", Policy + ":FailureMode")]
    [InlineData("RateLimiting:Redis:Configuration", "", "RateLimiting:Redis:Configuration")]
    [InlineData("RateLimiting:Redis:Configuration", "127.0.0.1:7000,colour=blue", "RateLimiting:Redis:Configuration")]
    [InlineData("RateLimiting:Redis:KeyPrefix", "{rl}", "RateLimiting:Redis:KeyPrefix")]
    [InlineData("RateLimiting:Redis:Batching", "sometimes", "RateLimiting:Redis:Batching")]
    [InlineData("RateLimiting:Redis:Colour", "blue", "RateLimiting:Redis:Colour")]
    [InlineData("RateLimiting:Redis:Resilience:BreakerFailureThreshold", "0", "RateLimiting:Redis:Resilience:BreakerFailureThreshold")]
    [InlineData("RateLimiting:Redis:Resilience:BreakerFailureSpan", "-00:00:01", "RateLimiting:Redis:Resilience:BreakerFailureSpan")]
    [InlineData("RateLimiting:Redis:Resilience:BreakerProbeInterval", "00:00:00", "RateLimiting:Redis:Resilience:BreakerProbeInterval")]
    [InlineData("RateLimiting:Redis:Resilience:BreakerMaxProbeInterval", "00:00:00.100", "RateLimiting:Redis:Resilience:BreakerMaxProbeInterval")]
    [InlineData("RateLimiting:Polices:other:PermitLimit", "5", "RateLimiting:Polices")]
    [InlineData("RateLimiting:Policies:bad{name}:PermitLimit", "5", "RateLimiting:Policies:bad{name}")]
    public async Task Start_Misconfigured_FailsNamingTheKey(string key, string value, string expected)
    {
        var error = await StartFailureAsync(new() { [key] = value });

        Assert.True(error.ToString().Contains(expected, StringComparison.Ordinal), error.ToString());
    }

    [Fact]
    public async Task Start_SeveralMistakes_OneMessageNamesEveryKey()
    {
        var error = await StartFailureAsync(new()
        {
            [Policy + ":PermitLimit"] = "0",
            [Policy + ":Window"] = "00:00:00",
            [Policy + ":Windw"] = "00:01:00",
            ["RateLimiting:Redis:Configuration"] = "",
        });

        Assert.Contains(Policy + ":PermitLimit", error.Message, StringComparison.Ordinal);
        Assert.Contains(Policy + ":Window", error.Message, StringComparison.Ordinal);
        Assert.Contains(Policy + ":Windw", error.Message, StringComparison.Ordinal);
        Assert.Contains("RateLimiting:Redis:Configuration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MissingConfigurationString_NeverEchoesSecrets()
    {
        var error = await StartFailureAsync(new()
        {
            ["RateLimiting:Redis:Configuration"] = "127.0.0.1:7000,password=hunter2,colour=blue",
        });

        Assert.Contains("RateLimiting:Redis:Configuration", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.ToString(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string[]> SeveralLimitsAndChainMistakes() => new()
    {
        { Tiered + ":PermitLimit", "10", [Tiered + ":PermitLimit", Tiered + ":Limits"] },
        { Tiered + ":Limits:1:Window", "00:00:01", [Tiered + ":Limits:1:Window", Tiered + ":Limits:0:Window"] },
        { Tiered + ":Limits:1:PermitLimit", "10", [Tiered + ":Limits:1:PermitLimit", Tiered + ":Limits:0:PermitLimit"] },
        { Tiered + ":Limits:0:PermitLimit", "0", [Tiered + ":Limits:0:PermitLimit"] },
        { Tiered + ":Limits:first:PermitLimit", "10", [Tiered + ":Limits:first"] },
        { Chain + ":Chain:1", "nobody", [Chain + ":Chain:1"] },
        { Chain + ":Chain:1", "per-client", [Chain + ":Chain:1"] },
        { Chain + ":PartitionBy", "Global", [Chain + ":PartitionBy"] },
    };

    [Theory]
    [MemberData(nameof(SeveralLimitsAndChainMistakes))]
    public async Task Start_SeveralLimitsOrChainMisconfigured_FailsNamingEveryOffendingKey(string key, string value, string[] expected)
    {
        var error = await StartFailureAsync(new()
        {
            [Tiered + ":Limits:0:PermitLimit"] = "10",
            [Tiered + ":Limits:0:Window"] = "00:00:01",
            [Tiered + ":Limits:1:PermitLimit"] = "1000",
            [Tiered + ":Limits:1:Window"] = "01:00:00",
            [Tiered + ":PartitionBy"] = "Header:X-Api-Key",
            ["RateLimiting:Policies:global:PermitLimit"] = "5000",
            ["RateLimiting:Policies:global:Window"] = "00:01:00",
            ["RateLimiting:Policies:global:PartitionBy"] = "Global",
            [Chain + ":Chain:0"] = "per-client",
            [Chain + ":Chain:1"] = "global",
            [key] = value,
        });

        Assert.All(expected, name => Assert.True(error.Message.Contains(name, StringComparison.Ordinal), error.Message));
    }

    private async Task<Exception> StartFailureAsync(Dictionary<string, string?> mistakes)
    {
        var settings = TestApp.Policy("per-client", 100, "Header:X-Api-Key", fallback: "ClientIp");
        foreach (var (key, value) in mistakes)
        {
            settings[key] = value;
        }

        return await Assert.ThrowsAnyAsync<Exception>(() => TestApp.StartAsync(
            _cluster, settings, app => app.MapGet("/", () => "ok").RequireRateLimiting("per-client")));
    }
}
